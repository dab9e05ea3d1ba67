"""The docs a newcomer reads: a short README, and every link in it and in docs/ leads
somewhere that exists."""

import re

from conftest import REPO_ROOT
from lakehouse.settings import LakeSettings
from laptop.settings_page import SETTINGS_PAGE, settings_page

PAGES = [
    REPO_ROOT / "README.md",
    REPO_ROOT / "BENCHMARKS.md",
    *sorted((REPO_ROOT / "docs").glob("*.md")),
]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_reads_in_ten_minutes():
    assert len((REPO_ROOT / "README.md").read_text().splitlines()) <= 150


def test_every_relative_link_leads_to_a_file_of_the_repository():
    broken = [
        f"{page.relative_to(REPO_ROOT)}: {target}"
        for page in PAGES
        for target in LINK.findall(page.read_text())
        if not target.startswith(("http://", "https://")) and not (page.parent / target).exists()
    ]
    assert broken == []


def test_every_page_under_docs_is_linked_from_the_readme():
    readme = (REPO_ROOT / "README.md").read_text()
    unlinked = [
        page.name
        for page in (REPO_ROOT / "docs").glob("*.md")
        if f"(docs/{page.name})" not in readme and page.name != "benchmarks-history.md"
    ]
    assert unlinked == []


def test_the_settings_page_is_the_one_make_docs_writes_from_the_settings():
    assert SETTINGS_PAGE.read_text() == settings_page(), "run `make docs`"
    for name in LakeSettings.model_fields:
        assert f"| `LAKE_{name.upper()}` |" in SETTINGS_PAGE.read_text()
