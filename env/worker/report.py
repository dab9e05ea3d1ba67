"""`runs/<run_id>/report.html`: the local StackExchange Overview, one self-contained page.

The numbers come from the gold tables (and silver posts, for answer times) through
delta-rs, so no Spark is needed. Charts are inline SVG drawn by matplotlib, their text
real `<text>` in the browser's own fonts: the page has no scripts, fonts, images or links
to fetch, and opens offline.
"""

import html
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc

from lakehouse import plots
from lakehouse.settings import LakeSettings
from lakehouse.tables import (
    GOLD_MOST_POPULAR_TAGS,
    GOLD_MOST_POPULAR_TAGS_MONTHLY,
    GOLD_POSTS_USERS,
    SILVER_POSTS,
)
from worker.lake_summary import read_site_table

TOP_USERS = 10
HEADLINES = {
    "all_questions": "questions",
    "users": "users with a profile",
    "tags": "tags in use",
    "questions": "questions asked by users with a profile",
    "answers": "answers given by users with a profile",
    "accepted_answers": "accepted answers",
}


def headline_numbers(settings: LakeSettings, site: str, users, posts) -> dict[str, int]:
    """`users` is the site's gold.posts_users, `posts` its silver.posts (a pandas frame
    of POST_TIMES), read once by the caller."""
    tags = read_site_table(settings, GOLD_MOST_POPULAR_TAGS, site, ["tag"])
    return {
        "all_questions": int((posts.post_type == "question").sum()),
        "users": users.num_rows,
        "tags": tags.num_rows,
        **{
            name: pc.sum(users[name]).as_py() or 0
            for name in ("questions", "answers", "accepted_answers")
        },
    }


def _svg(figure) -> str:
    import matplotlib
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    # Text as <text>, not paths: it can be searched, selected and read by a screen reader.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    # Inline in HTML: drop the XML prolog and the DOCTYPE (its DTD URL is never needed).
    return re.sub(r"^.*?(<svg\b)", r"\1", buffer.getvalue(), flags=re.S)


def _cell(value) -> str:
    """A table cell: numbers right-aligned with their thousands grouped."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="number">{value:,}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table(element_id: str, header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return (
        f'<div class="scroll"><table id="{element_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def build_report(settings: LakeSettings, site: str, run_id: str, summary: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    users_table = read_site_table(settings, GOLD_POSTS_USERS, site)
    posts = read_site_table(settings, SILVER_POSTS, site, list(plots.POST_TIMES)).to_pandas()
    numbers = headline_numbers(settings, site, users_table, posts)
    hours = plots.hours_to_first_answer(posts)
    monthly = read_site_table(
        settings, GOLD_MOST_POPULAR_TAGS_MONTHLY, site, ["tag", "month", "question_count"]
    ).to_pandas()
    median = f"{hours[len(hours) // 2]:.1f} h" if hours else "no answers"
    users = users_table.to_pandas()
    top_users = users.sort_values(["reputation", "user_id"], ascending=[False, True])
    quality = summary["data_quality"]
    cards = "".join(
        f'<div class="card"><div class="value" data-metric="{name}">{numbers[name]:,}</div>'
        f"<div>{html.escape(label)}</div></div>"
        for name, label in HEADLINES.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>StackExchange Overview: {html.escape(site)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
.cards {{ display: flex; gap: 1em; flex-wrap: wrap; }}
.card {{ border: 1px solid #ccc; border-radius: 6px; padding: 0.8em 1.2em; }}
.value {{ font-size: 1.8em; font-weight: bold; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ddd; padding: 0.3em 0.7em; text-align: left; }}
td.number {{ text-align: right; font-variant-numeric: tabular-nums; }}
.scroll {{ overflow-x: auto; }}
figure {{ margin: 1em 0; }}
figure svg {{ width: 100%; height: auto; }}
</style></head><body>
<h1>StackExchange Overview</h1>
<p>Site <b>{html.escape(site)}</b>, dump {html.escape(summary.get("dump_id") or "latest")},
run {html.escape(run_id)}, written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>
<h2>Headline numbers</h2><div class="cards" id="headline">{cards}</div>
<h2>Tag trend</h2><figure id="chart-tag-trend">{_svg(plots.tag_trend(monthly))}</figure>
<h2>Answer times</h2>
<p>Questions answered: {len(hours)}; median time to first answer: {median}.</p>
<figure id="chart-answer-times">{_svg(plots.answer_times(hours))}</figure>
<h2>Top users</h2>
{
        _table(
            "top-users",
            ["user", "reputation", "questions", "answers", "accepted answers"],
            top_users[["display_name", "reputation", "questions", "answers", "accepted_answers"]]
            .head(TOP_USERS)
            .values.tolist(),
        )
    }
<h2>Data quality</h2>
{
        _table(
            "data-quality-outcome",
            ["passed", "warned", "quarantined"],
            [[quality["posts_passed"], quality.get("posts_warned"), quality["posts_quarantined"]]],
        )
    }
{
        _table(
            "data-quality",
            ["rule", "criticality", "failed rows"],
            [[r["rule"], r["criticality"], r["failed_rows"]] for r in quality["rules"]],
        )
    }
</body></html>
"""


def write_site_report(settings: LakeSettings, site: str, run_id: str, out: Path) -> Path:
    """The report of the site as the lake holds it now, written to `out`."""
    from worker.lake_summary import held_dump, summarize_site

    summary = {"dump_id": held_dump(settings, site), **summarize_site(settings, site)}
    out.write_text(build_report(settings, site, run_id, summary))
    return out
