"""The charts people look at, drawn the same way in the notebooks, JupyterLab and the
local report: each takes plain pandas data and returns a matplotlib figure."""

from functools import cache

TREND_TAGS = 5
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


def _new_axes(title: str, xlabel: str, ylabel: str):
    import matplotlib.pyplot as plt

    # Set for the session, not the figure: tick labels take their font when drawn.
    plt.rcParams["font.family"] = font_families()
    figure, axes = plt.subplots(figsize=(8, 3.5))
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    return figure, axes


def monthly_counts(monthly, tag: str):
    """The tag's questions per month, one value for every month from the site's first
    to its last: 0 where the site had questions but none with the tag, NaN (a gap in the
    line) where it had no tagged question at all."""
    import pandas as pd

    month = pd.to_datetime(monthly.month)
    months = pd.date_range(month.min(), month.max(), freq="MS")
    tagged = monthly.tag == tag
    counts = monthly.question_count[tagged].set_axis(month[tagged]).reindex(months)
    return counts.astype("float").where(counts.notna() | ~months.isin(month), 0.0)


def tag_trend(monthly, tags: int = TREND_TAGS):
    """Questions per month of the most asked tags; `monthly` has tag, month (the first
    of each month), question_count. The legend sits beside the axes, never on a line."""
    from matplotlib.dates import ConciseDateFormatter

    top = monthly.groupby("tag")["question_count"].sum().nlargest(tags).index
    figure, axes = _new_axes(
        f"Questions per month, top {len(top)} tags", "month", "questions per month"
    )
    for tag in top:
        series = monthly_counts(monthly, tag)
        axes.plot(series.index, series.values, marker="o", markersize=3, label=tag)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(axes.xaxis.get_major_locator()))
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0, fontsize="small")
    return figure


def hours_to_first_answer(posts) -> list[float]:
    """Hours from each question to its first answer; `posts` has the POST_TIMES columns
    of silver.posts."""
    questions = posts[posts.post_type == "question"].set_index("id")["creation_date"]
    first_answer = posts[posts.post_type == "answer"].groupby("question_id")["creation_date"].min()
    waits = (first_answer - questions.reindex(first_answer.index)).dropna()
    return sorted(w.total_seconds() / 3600 for w in waits if w.total_seconds() >= 0)


def answer_times(hours: list[float]):
    """A histogram of hours to first answer, on a log scale."""
    import numpy as np

    figure, axes = _new_axes(
        "Time to first answer", "hours after the question (log scale)", "questions"
    )
    at_least_a_minute = [max(h, 1 / 60) for h in hours]
    # Waits span minutes to years: equal-width bins on a log axis.
    bins = np.geomspace(1 / 60, max([*at_least_a_minute, 1.0]) * 1.01, 30)
    axes.hist(at_least_a_minute, bins=bins)
    axes.set_xscale("log")
    return figure


def user_activity(users, top: int = 15):
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
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0, fontsize="small")
    return figure
