"""The charts' promises: a month with no data is a gap in the line, not a bridge; a
month with questions but none of the tag is a zero; the legend never sits on the data."""

import math
from datetime import date

import matplotlib
import pandas as pd
import pytest

from lakehouse import plots

matplotlib.use("Agg")


@pytest.fixture
def monthly():
    rows = [
        ("python", date(2020, 1, 1), 5),
        ("python", date(2020, 2, 1), 7),
        ("sql", date(2020, 2, 1), 2),
        # March 2020: no tagged question on the site at all.
        ("python", date(2020, 4, 1), 9),
        ("sql", date(2020, 4, 1), 1),
    ]
    return pd.DataFrame(rows, columns=["tag", "month", "question_count"])


def test_a_month_without_data_is_a_gap_and_one_without_the_tag_is_zero(monthly):
    sql = plots.monthly_counts(monthly, "sql")
    assert list(sql.index.strftime("%Y-%m")) == ["2020-01", "2020-02", "2020-03", "2020-04"]
    assert sql.iloc[0] == 0  # January had questions, none tagged sql.
    assert math.isnan(sql.iloc[2])  # March had none at all.
    assert [sql.iloc[1], sql.iloc[3]] == [2, 1]


def test_the_trend_line_breaks_at_the_gap(monthly):
    figure = plots.tag_trend(monthly)
    python = next(line for line in figure.axes[0].lines if line.get_label() == "python")
    assert [math.isnan(y) for y in python.get_ydata()] == [False, False, True, False]


@pytest.mark.parametrize("chart", ["tag_trend", "user_activity"])
def test_the_legend_sits_beside_the_axes(monthly, chart):
    users = pd.DataFrame(
        {"user_id": [1, 2], "display_name": ["a", "b"], "questions": [3, 1], "answers": [2, 9]}
    )
    figure = plots.tag_trend(monthly) if chart == "tag_trend" else plots.user_activity(users)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0]
    legend = axes.get_legend().get_window_extent(renderer)
    assert not legend.overlaps(axes.get_window_extent(renderer))


def display_names_beyond_latin(archive, work) -> list[str]:
    """The user names of a real dump with a character past Latin Extended-B."""
    from real_dump_helpers import extracted_rows

    names = (row.get("DisplayName") or "" for row in extracted_rows(archive, work)["Users.xml"])
    return [name for name in names if any(ord(c) > 0x24F for c in name)]


def test_the_real_dumps_user_names_draw_with_no_missing_glyph(shared_dumps, tmp_path):
    """Their names in Japanese, Korean, Chinese, Thai, Kannada, Arabic, Cyrillic and more,
    drawn as the notebooks draw them (Agg, a PNG), with the fonts of `make test-tools`."""
    import warnings

    names = sorted(
        {
            name
            for archive in shared_dumps.glob("*.7z")
            for name in display_names_beyond_latin(archive, tmp_path / archive.stem)
        }
    )
    assert any("\u3040" <= c <= "\u30ff" for n in names for c in n), "no kana in the names"
    missing = set(plots.FALLBACK_FONTS) - set(plots.font_families())
    assert not missing, f"fonts not installed: {sorted(missing)}; run `make test-tools`"
    users = pd.DataFrame(
        {
            "user_id": range(len(names)),
            "display_name": names,
            "questions": 1,
            "answers": 1,
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = plots.user_activity(users, top=len(names))
        figure.canvas.draw()
    assert [str(w.message) for w in caught if "missing from font" in str(w.message)] == []
