"""What a person sees in a report.html, read in headless Chromium: shared by the report's
tests on the sample and the real dumps."""

import os
import subprocess
import sys
from pathlib import Path

from browser import Browser


def write_report(site: str, out: Path, bucket: str | None = None) -> Path:
    """`lake report --site <site> --out <out>`, as a user runs it. In a subprocess:
    delta-rs, which reads the tables, may abort at interpreter exit."""
    env = {**os.environ, **({"LAKE_BUCKET": bucket} if bucket else {})}
    command = [sys.executable, "-m", "laptop.cli", "report", "--site", site, "--out", str(out)]
    written = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert written.returncode == 0, written.stderr[-3000:]
    return out


def check_charts_read_at_a_glance(browser: Browser, page: Path, screenshot: Path) -> str:
    """Open `page`, keep a screenshot, and check what every chart must be: as wide as
    the page, counted in whole numbers only. Returns the tag trend's title."""
    browser.open(page.as_uri(), settle_seconds=0)
    browser.screenshot(screenshot)
    assert browser.console_errors() == []
    widths = browser.evaluate(
        "[...document.querySelectorAll('figure svg')]"
        ".map(svg => svg.getBoundingClientRect().width / document.body.clientWidth)"
    )
    assert len(widths) == 2 and all(share > 0.95 for share in widths), widths
    ticks = browser.evaluate(
        "[...document.querySelectorAll('#chart-tag-trend svg text')].map(t => t.textContent)"
    )
    counts = [float(text) for text in ticks if text.replace(".", "", 1).isdigit()]
    assert counts and all(count.is_integer() for count in counts), ticks
    return next(text for text in ticks if text.startswith("Questions per "))
