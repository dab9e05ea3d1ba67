"""Plain text from the HTML the dumps carry in Body and AboutMe."""

import html
import re

import pandas as pd

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def html_to_text(markup: str | None) -> str | None:
    """Visible text of an HTML fragment: tags dropped, entities decoded, spaces folded."""
    if markup is None:
        return None
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", markup))).strip()


def html_to_text_series(markup: pd.Series) -> pd.Series:
    """`html_to_text` over a pandas Series (missing values stay missing)."""
    return markup.map(html_to_text, na_action="ignore")
