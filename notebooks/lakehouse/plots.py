"""The charts people look at, drawn the same way in the notebooks, JupyterLab and the
local report: each takes plain pandas data and returns a matplotlib figure."""

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

TREND_TAGS = 5
# The periods a trend is drawn in, finest first: pandas' frequencies of their first days.
GRAINS = {"month": "MS", "quarter": "QS", "year": "YS"}
# About as many questions as a tag needs in each period for its line to be a trend and
# not noise between 0 and 2: the trend takes the finest grain where the top tags reach it
# on average.
QUESTIONS_PER_PERIOD = 10
# The columns of silver.posts that hours_to_first_answer reads.
POST_TIMES = ("id", "post_type", "question_id", "creation_date")
# After matplotlib's own DejaVu Sans, the fonts tried for a character it lacks, where
# installed: the scripts of the sites' user names and tags (Debian's fonts-noto-core;
# Chinese and Japanese from fonts-droid-fallback, Korean from fonts-nanum, all in a
# regular weight; `make test-tools` installs them).
FALLBACK_FONTS = (
    "Noto Sans",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
    "Noto Sans Bengali",
    "Noto Sans Tamil",
    "Noto Sans Kannada",
    "Noto Sans Thai",
    "Noto Sans Georgian",
    "Noto Sans Armenian",
    "Noto Sans Ethiopic",
    "Noto Sans Canadian Aboriginal",
    "Noto Sans Cherokee",
    "Noto Sans Symbols",
    "Noto Sans Symbols2",
    "Noto Sans Math",
    "Droid Sans Fallback",
    "NanumGothic",
)


@cache
def font_families() -> tuple[str, ...]:
    """DejaVu Sans, then the installed FALLBACK_FONTS: matplotlib draws each character
    in the first of them that has it."""
    from matplotlib import font_manager

    # matplotlib lists the system's fonts once, in a cache that fonts installed since
    # then are missing from: those are added here, for this session.
    known = {font.fname for font in font_manager.fontManager.ttflist}
    for path in set(font_manager.findSystemFonts()) - known:
        font_manager.fontManager.addfont(path)
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return ("DejaVu Sans", *(family for family in FALLBACK_FONTS if family in installed))


def _new_figure(rows: int = 1, height: float = 3.5) -> "tuple[Figure, list[Axes]]":
    import matplotlib.pyplot as plt

    # Set for the session, not the figure: tick labels take their font when drawn.
    plt.rcParams["font.family"] = font_families()
    figure, panels = plt.subplots(
        rows, 1, figsize=(8, height), sharex=True, squeeze=False, layout="constrained"
    )
    return figure, list(panels[:, 0])


def _new_axes(title: str, xlabel: str, ylabel: str) -> "tuple[Figure, Axes]":
    figure, (axes,) = _new_figure()
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    return figure, axes


def _whole_numbers(axis: "Axis") -> None:
    """Ticks at whole numbers only: the axis counts questions, answers or posts."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True, nbins="auto", min_n_ticks=2))


def monthly_counts(monthly: "pd.DataFrame", tag: str) -> "pd.Series":
    """The tag's questions per month, one value for every month from the site's first
    to its last: 0 where the site had questions but none with the tag, NaN (a gap in the
    line) where it had no tagged question at all."""
    import pandas as pd

    month = pd.to_datetime(monthly.month)
    months = pd.date_range(month.min(), month.max(), freq="MS")
    tagged = monthly.tag == tag
    counts = monthly.question_count[tagged].set_axis(month[tagged]).reindex(months)
    return counts.astype("float").where(counts.notna() | ~months.isin(month), 0.0)


def trend_grain(monthly: "pd.DataFrame", tags: list[str]) -> str:
    """The finest of GRAINS in which `tags` have QUESTIONS_PER_PERIOD questions each per
    period on average, over the months `monthly` spans; else years."""
    import pandas as pd

    if monthly.empty:
        return "year"
    month = pd.to_datetime(monthly.month)
    per_tag = monthly.question_count[monthly.tag.isin(tags)].sum() / max(len(tags), 1)
    for grain, frequency in GRAINS.items():
        periods = len(pd.period_range(month.min(), month.max(), freq=frequency[0]))
        if per_tag / periods >= QUESTIONS_PER_PERIOD:
            return grain
    return "year"


def period_counts(monthly: "pd.DataFrame", tag: str, grain: str) -> "pd.Series":
    """monthly_counts summed by `grain`: a gap only where no month of the period has data."""
    counts = monthly_counts(monthly, tag)
    return counts if grain == "month" else counts.resample(GRAINS[grain]).sum(min_count=1)


def tag_trend(
    monthly: "pd.DataFrame", tags: int = TREND_TAGS, grain: str | None = None
) -> "Figure":
    """Questions of the most asked tags per month, quarter or year (`grain`, else the
    finest their counts support), one small panel per tag on its own scale, so that a tag
    asked ten times as often as the others does not flatten them. `monthly` has tag,
    month (the first of each month) and question_count."""
    from matplotlib.dates import ConciseDateFormatter

    top = list(monthly.groupby("tag")["question_count"].sum().nlargest(tags).index)
    grain = grain or trend_grain(monthly, top)
    figure, panels = _new_figure(rows=max(len(top), 1), height=0.9 + 1.1 * max(len(top), 1))
    figure.suptitle(f"Questions per {grain}, top {len(top)} tags, each on its own scale")
    figure.supylabel(f"questions per {grain}")
    for axes, tag in zip(panels, top, strict=False):
        series = period_counts(monthly, tag, grain)
        axes.plot(series.index, series.values, marker="o", markersize=3)
        axes.set_title(tag, loc="left", fontsize="small")
        axes.set_ylim(bottom=0)
        _whole_numbers(axes.yaxis)
    bottom = panels[-1]
    bottom.set_xlabel(grain)
    # matplotlib.dates, unlike most of matplotlib, has no type annotations.
    dates = ConciseDateFormatter(bottom.xaxis.get_major_locator())  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_formatter(dates)
    return figure


def hours_to_first_answer(posts: "pd.DataFrame") -> list[float]:
    """Hours from each question to its first answer; `posts` has the POST_TIMES columns
    of silver.posts."""
    questions = posts[posts.post_type == "question"].set_index("id")["creation_date"]
    first_answer = posts[posts.post_type == "answer"].groupby("question_id")["creation_date"].min()
    waits = (first_answer - questions.reindex(first_answer.index)).dropna()
    return sorted(w.total_seconds() / 3600 for w in waits if w.total_seconds() >= 0)


def answer_times(hours: list[float]) -> "Figure":
    """A histogram of hours to first answer, on a log scale."""
    import numpy as np

    figure, axes = _new_axes(
        "Time to first answer", "hours after the question (log scale)", "questions"
    )
    at_least_a_minute = [max(h, 1 / 60) for h in hours]
    # Waits span minutes to years: equal-width bins on a log axis.
    bins = np.geomspace(1 / 60, max([*at_least_a_minute, 1.0]) * 1.01, 30)
    # matplotlib's stubs take bin edges as a Sequence, which an array is not, though it works.
    axes.hist(at_least_a_minute, bins=bins)  # type: ignore[arg-type]
    axes.set_xscale("log")
    _whole_numbers(axes.yaxis)
    return figure


def user_activity(users: "pd.DataFrame", top: int = 15) -> "Figure":
    """Questions and answers of the most active users; `users` is gold.posts_users."""
    active = (
        users.assign(posts=users.questions + users.answers)
        .sort_values(["posts", "user_id"], ascending=[False, True])
        .head(top)
        .iloc[::-1]
    )
    figure, axes = _new_axes(f"The {len(active)} most active users", "posts", "user")
    axes.barh(active.display_name, active.questions, label="questions")
    axes.barh(active.display_name, active.answers, left=active.questions, label="answers")
    _whole_numbers(axes.xaxis)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0, fontsize="small")
    return figure
