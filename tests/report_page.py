"""What a person sees in a report.html, read in headless Chromium: shared by the report's
tests on the sample and the real dumps."""

from pathlib import Path

from browser import Browser


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
