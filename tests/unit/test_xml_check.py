import pytest

from lakehouse.ingest.xml_check import BadXmlFile, inspect_xml
from lakehouse.schemas import table_for_file

USERS = table_for_file("Users.xml")
HEADER = '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<users>\n'


def write(tmp_path, text, newline="\n"):
    path = tmp_path / "Users.xml"
    path.write_text(text.replace("\n", newline), encoding="utf-8")
    return path


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_counts_rows_of_a_complete_file(tmp_path, newline):
    path = write(tmp_path, HEADER + '  <row Id="-1" />\n  <row Id="1" />\n</users>', newline)
    facts = inspect_xml(path, USERS)
    assert facts.rows == 2 and facts.bytes == path.stat().st_size and len(facts.sha1) == 40


def test_missing_closing_tag_is_truncation(tmp_path):
    path = write(tmp_path, HEADER + '  <row Id="1" />\n  <row Id="2" Disp')
    with pytest.raises(BadXmlFile, match=r"Users.xml: truncated.*</users>"):
        inspect_xml(path, USERS)


def test_doctype_is_refused_with_its_line(tmp_path):
    path = write(
        tmp_path, '<?xml version="1.0"?>\n<!DOCTYPE users [<!ENTITY a "b">]>\n<users>\n</users>'
    )
    with pytest.raises(BadXmlFile, match="Users.xml, line 2: DOCTYPE"):
        inspect_xml(path, USERS)


def test_wrong_root_element_is_named(tmp_path):
    path = write(tmp_path, "<posts>\n</posts>")
    with pytest.raises(BadXmlFile, match="expected <users>"):
        inspect_xml(path, USERS)


def test_a_garbage_line_inside_the_root_counts_as_a_row_line(tmp_path):
    # Bronze rejects such a line with its reason; the manifest must count it too.
    path = write(tmp_path, HEADER + '  <row Id="1" />\n  garbage\n</users>')
    assert inspect_xml(path, USERS).rows == 2


def test_a_row_before_the_root_is_named(tmp_path):
    path = write(tmp_path, '<row Id="1" />\n<users>\n</users>')
    with pytest.raises(BadXmlFile, match=r"line 1: expected <users>, found '<row Id=\"1\" />'"):
        inspect_xml(path, USERS)
