import pytest

from lakehouse import write_conflicts
from lakehouse.write_conflicts import is_write_conflict, retry_on_conflict


class Py4JJavaError(Exception):
    pass


CONFLICT = Py4JJavaError(
    "An error occurred while calling o192.save.\n: io.delta.exceptions.MetadataChangedException:"
    " [DELTA_METADATA_CHANGED] The metadata of the Delta table has been changed"
)


def test_delta_concurrency_errors_are_conflicts_and_others_are_not():
    assert is_write_conflict(CONFLICT)
    assert not is_write_conflict(ValueError("[DELTA_MERGE_MULTIPLE_SOURCE_ROWS_MATCHED]"))


@pytest.mark.parametrize(
    "message",
    [
        # The imitation's first run, three bronze notebooks creating one table at once.
        "[DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION] Cannot create table "
        "('`bronze`.`rejected_rows`'). The associated location is not empty",
        # Unity Catalog's, Spark's error class for a name already taken.
        "[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table or view `main`.`bronze`.`step_runs` "
        "because it already exists.",
    ],
)
def test_a_table_another_writer_created_first_is_a_conflict(message):
    assert is_write_conflict(Exception(message))


def test_a_conflict_is_retried_until_the_write_succeeds(monkeypatch):
    monkeypatch.setattr(write_conflicts.time, "sleep", lambda seconds: None)
    outcomes = [CONFLICT, CONFLICT, "written"]

    def write():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retry_on_conflict(write, "upsert bronze.rejected_rows") == "written"
    assert outcomes == []


def test_other_errors_and_the_last_conflict_are_raised(monkeypatch):
    monkeypatch.setattr(write_conflicts.time, "sleep", lambda seconds: None)
    calls = []

    def always_conflicts():
        calls.append(1)
        raise CONFLICT

    with pytest.raises(Py4JJavaError):
        retry_on_conflict(always_conflicts, "w", attempts=3)
    assert len(calls) == 3
    with pytest.raises(ValueError):
        retry_on_conflict(lambda: (_ for _ in ()).throw(ValueError("bad")), "w")
