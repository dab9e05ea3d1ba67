import pytest

from lakehouse.schemas import DUMP_TABLES, REQUIRED_FILES, snake_case, table_for_file


@pytest.mark.parametrize(
    ("attribute", "column"),
    [
        ("Id", "id"),
        ("PostTypeId", "post_type_id"),
        ("OwnerUserId", "owner_user_id"),
        ("RevisionGUID", "revision_guid"),
        ("AboutMe", "about_me"),
        ("CreationDate", "creation_date"),
    ],
)
def test_snake_case(attribute, column):
    assert snake_case(attribute) == column


def test_the_eight_dump_files_have_explicit_typed_schemas():
    assert len(DUMP_TABLES) == 8
    assert set(REQUIRED_FILES) <= set(DUMP_TABLES)
    for table in DUMP_TABLES.values():
        assert table.attributes[0].name == "Id"
        assert len(set(table.columns)) == len(table.columns)
        assert all(column == column.lower() for column in table.columns)


def test_posts_schema_follows_the_sede_documentation():
    posts = table_for_file("Posts.xml")
    types = {a.name: a.type for a in posts.attributes}
    assert types["CreationDate"] == "timestamp"
    assert types["Score"] == "int"
    assert types["Id"] == "bigint"
    assert {"AcceptedAnswerId", "ParentId", "OwnerDisplayName", "ClosedDate"} <= set(types)


def test_unknown_file_is_named_in_the_error():
    with pytest.raises(ValueError, match="Readme.xml"):
        table_for_file("Readme.xml")
