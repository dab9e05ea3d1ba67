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
    """`html_to_text` over a pandas Series, as a Series of strings and None whatever the
    batch holds. (`Series.map` turns a batch of nothing but missing values into float64,
    which Arrow cannot take back as strings: a refresh whose new users all lack AboutMe
    failed on it.)"""
    texts = [html_to_text(value) if isinstance(value, str) else None for value in markup]
    return pd.Series(texts, index=markup.index, dtype=object)
