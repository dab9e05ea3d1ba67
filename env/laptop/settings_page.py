"""docs/settings.md, written from the settings' own fields (`make docs`): every `LAKE_*`
variable with its default and its description, so the page cannot drift from the code."""

import re

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from lakehouse.settings import LakeSettings
from worker.paths import REPO_ROOT

SETTINGS_PAGE = REPO_ROOT / "docs" / "settings.md"
HEADER = """# Settings

One settings object (`lakehouse/settings.py`, pydantic-settings) reads `LAKE_*`
environment variables, a class per concern; a bad value stops with a message that names
the variable. `make docs` writes this page from its fields.
"""
TABLE_HEAD = "| variable | default | meaning |\n|---|---|---|\n"


def shown_default(field: FieldInfo) -> str:
    """A field's default as the page shows it."""
    default = field.default
    if field.default_factory is not None:
        return "see meaning"
    if isinstance(default, SecretStr):
        return "the emulator's"
    if default in ("", None):
        return "empty"
    if isinstance(default, int) and default >= 1 << 20:  # a size in bytes
        return f"{default:,}"
    return f"`{default}`"


def settings_page() -> str:
    """The page: a section per concern, under its class's docstring; a row per setting."""
    sections = []
    concerns: list[type[BaseSettings]] = list(reversed(LakeSettings.__bases__))
    for concern in concerns:
        rows = []
        for name, field in concern.model_fields.items():
            meaning = re.sub(r"\(([a-z-]+\.md)\)", r"([\1](\1))", field.description or "")
            rows.append(f"| `LAKE_{name.upper()}` | {shown_default(field)} | {meaning} |\n")
        heading = (concern.__doc__ or concern.__name__).split("\n")[0].rstrip(".")
        sections.append(f"\n## {heading}\n\n{TABLE_HEAD}{''.join(rows)}")
    return HEADER + "".join(sections)


def write_settings_page() -> str:
    """Write docs/settings.md; its path."""
    SETTINGS_PAGE.write_text(settings_page())
    return str(SETTINGS_PAGE.relative_to(REPO_ROOT))
