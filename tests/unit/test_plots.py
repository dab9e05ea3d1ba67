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


def _panel(figure, tag: str):
    return next(axes for axes in figure.axes if axes.get_title(loc="left") == tag)


def test_the_trend_line_breaks_at_the_gap(monthly):
    figure = plots.tag_trend(monthly, grain="month")
    (python,) = _panel(figure, "python").lines
    assert [math.isnan(y) for y in python.get_ydata()] == [False, False, True, False]


def test_a_quarter_is_a_gap_only_when_none_of_its_months_has_data(monthly):
    quarters = plots.period_counts(monthly, "sql", "quarter")
    assert list(quarters.index.strftime("%Y-%m")) == ["2020-01", "2020-04"]
    assert list(quarters) == [2, 1]


def test_the_trend_takes_the_finest_grain_its_counts_support(monthly):
    """About ten questions per tag and period: a sparse site is drawn by year."""
    assert plots.trend_grain(monthly, ["python", "sql"]) == "year"
    busy = monthly.assign(question_count=monthly.question_count * 40)
    assert plots.trend_grain(busy, ["python", "sql"]) == "month"
    assert plots.tag_trend(monthly).get_suptitle().startswith("Questions per year")


def test_one_dominant_tag_flattens_no_other_and_counts_tick_at_whole_numbers(monthly):
    dominant = pd.concat(
        [monthly, pd.DataFrame({"tag": "c", "month": [date(2020, 2, 1)], "question_count": 400})]
    )
    figure = plots.tag_trend(dominant, grain="month")
    sql = _panel(figure, "sql")
    assert sql.get_ylim()[1] < 10  # its own scale, not the 400 of tag c
    figure.canvas.draw()
    ticks = [tick for tick in sql.get_yticks() if sql.get_ylim()[0] <= tick <= sql.get_ylim()[1]]
    assert len(ticks) >= 2 and all(float(tick).is_integer() for tick in ticks), ticks


def test_the_legend_sits_beside_the_axes():
    users = pd.DataFrame(
        {"user_id": [1, 2], "display_name": ["a", "b"], "questions": [3, 1], "answers": [2, 9]}
    )
    figure = plots.user_activity(users)
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


def test_a_grain_counts_every_period_the_months_touch():
    """February to April touches two quarters: 15 questions are 7.5 a quarter, too few."""
    spread = pd.DataFrame(
        {"tag": "a", "month": [date(2020, 2, 1), date(2020, 4, 1)], "question_count": [7, 8]}
    )
    assert plots.trend_grain(spread, ["a"]) == "year"
