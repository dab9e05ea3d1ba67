import pytest

from lakehouse.schemas import table_for_file
from worker.ingest.xml_check import BadXmlFile, inspect_xml

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


ROWS = '  <row Id="1" DisplayName="Zoë 山田" />\n  <row Id="2" />\n'
CLEAN = '<?xml version="1.0" encoding="utf-8"?>\n<users>\n' + ROWS + "</users>"


def test_comments_and_instructions_outside_rows_are_neither_rows_nor_errors(tmp_path):
    text = (
        '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<!-- the 2025 header -->\n<users>\n'
        '  <row Id="1" />\n  <!-- between -->\n  <?pi data?>\n  <row Id="2" />\n</users>\n'
        "<!-- after the root -->"
    )
    assert inspect_xml(write(tmp_path, text), USERS).rows == 2


def test_a_comment_over_several_lines_is_dropped_from_the_file(tmp_path):
    text = HEADER + '  <!-- one\n  two <row Id="9" />\n  three -->\n' + ROWS + "</users>"
    path = write(tmp_path, text)
    assert inspect_xml(path, USERS).rows == 2
    assert "two" not in path.read_text() and 'Id="2"' in path.read_text()


@pytest.mark.parametrize(
    ("codec", "bom", "described"),
    [
        ("utf-16-le", "\ufeff", "UTF-16LE with BOM"),
        ("utf-16-be", "\ufeff", "UTF-16BE with BOM"),
        ("utf-16-le", "", "UTF-16LE"),
        ("utf-8", "", "UTF-8"),
        ("utf-8", "\ufeff", "UTF-8 with BOM"),
    ],
)
def test_utf16_is_transcoded_to_utf8_and_the_encoding_recorded(tmp_path, codec, bom, described):
    text = CLEAN.replace('"utf-8"', '"utf-16"') if codec.startswith("utf-16") else CLEAN
    path = tmp_path / "Users.xml"
    path.write_bytes((bom + text).encode(codec))
    facts = inspect_xml(path, USERS)
    assert (facts.rows, facts.encoding) == (2, described)
    stored = path.read_bytes().decode("utf-8").lstrip("\ufeff")
    assert stored.splitlines()[0] == '<?xml version="1.0" encoding="utf-8"?>'
    assert "Zoë 山田" in stored


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            CLEAN.replace("utf-8", "windows-1252").replace(" 山田", "").encode("cp1252"),
            r"Users.xml: encoding windows-1252 \(from line 1\)",
        ),
        (
            "\ufeff".encode("utf-32-le") + CLEAN.encode("utf-32-le"),
            r"Users.xml: encoding UTF-32LE \(from its byte-order mark\)",
        ),
        (CLEAN.replace("utf-8", "utf-16").encode(), r"Users.xml, line 1: declares utf-16 but"),
        (b"PK\x03\x04 not xml at all\n", r"Users.xml, line 1: expected <users>.*likely cause"),
    ],
)
def test_other_encodings_stop_with_the_file_and_what_was_found(tmp_path, data, message):
    path = tmp_path / "Users.xml"
    path.write_bytes(data)
    with pytest.raises(BadXmlFile, match=message):
        inspect_xml(path, USERS)
