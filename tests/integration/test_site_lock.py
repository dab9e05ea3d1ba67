"""One writer per site: the lock in the lake's bucket, against the real S3 server.

Racing writers are threads with their own S3 clients and, for the dead-holder case, a
real process that has exited; the two-runs case is in test_concurrent_runs.py.
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from dag_loading import DAGS_FOLDER
from site_locks import take_over
from worker.ingest.raw_store import s3_client
from worker.ingest.site_lock import LOCKS_PREFIX, LockLost, SiteBusy, SiteLock, lock_holder


def lock(settings, site: str, run_id: str, messages: list | None = None, **options) -> SiteLock:
    """A lock whose loss, if a test causes one, never interrupts the test process."""
    log = messages.append if messages is not None else (lambda _: None)
    options.setdefault("on_lost", lambda: None)
    return SiteLock(s3_client(settings), settings.bucket, site, run_id, log=log, **options)


def test_of_runs_racing_for_one_site_exactly_one_wins(settings, s3):
    site = "race.example.com"
    contenders = [lock(settings, site, f"run-{n}", wait=False) for n in range(8)]

    def try_to_take(contender: SiteLock) -> str:
        try:
            contender.acquire()
        except SiteBusy as busy:
            return str(busy)
        return "won"

    start = threading.Barrier(len(contenders))

    def at_once(contender):
        start.wait()
        return try_to_take(contender)

    with ThreadPoolExecutor(len(contenders)) as pool:
        outcomes = list(pool.map(at_once, contenders))
    winner = contenders[outcomes.index("won")]
    assert outcomes.count("won") == 1, outcomes
    refusals = [o for o in outcomes if o != "won"]
    assert all(
        o.startswith(f"site {site} is being written by run {winner.run_id}, started ")
        and "\n" not in o
        for o in refusals
    ), refusals
    winner.release()
    assert lock_holder(s3, settings.bucket, site) is None
    with lock(settings, site, "after", wait=False):
        assert lock_holder(s3, settings.bucket, site).run_id == "after"


def test_a_second_run_waits_with_a_message_and_goes_on_when_the_first_ends(settings, s3):
    site = "queue.example.com"
    messages: list[str] = []
    first = lock(settings, site, "first")
    first.acquire()
    second = lock(settings, site, "second", messages, poll_seconds=0.2)
    waiter = threading.Thread(target=second.acquire)
    waiter.start()
    time.sleep(1.5)
    assert waiter.is_alive(), "the second run did not wait"
    assert len(messages) == 1 and messages[0].startswith("waiting for run first, started ")
    assert messages[0].endswith(f"which is writing {site}")
    first.release()
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert lock_holder(s3, settings.bucket, site).run_id == "second"
    second.release()


def test_the_lock_of_a_process_that_is_gone_is_taken_over_and_the_takeover_logged(settings, s3):
    site = "orphan.example.com"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(gone.stdout)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    holder = {
        "run_id": "crashed",
        "host": socket.gethostname(),
        "pid": dead_pid,
        "started": now,
        "heartbeat": now,
    }
    s3.put_object(
        Bucket=settings.bucket, Key=f"{LOCKS_PREFIX}/{site}.json", Body=json.dumps(holder).encode()
    )
    messages: list[str] = []
    with lock(settings, site, "rescuer", messages, wait=False):
        assert lock_holder(s3, settings.bucket, site).run_id == "rescuer"
    assert messages == [
        f"took over the lock of {site} from run crashed, started {now[:16].replace('T', ' ')} "
        f"UTC on {socket.gethostname()} (pid {dead_pid}): its process {dead_pid} is gone"
    ]


def test_a_holder_elsewhere_is_stale_only_once_its_heartbeat_is_old(settings, s3):
    site = "elsewhere.example.com"
    key = f"{LOCKS_PREFIX}/{site}.json"

    def held_by_a_pod(heartbeat_age: timedelta) -> None:
        beat = (datetime.now(UTC) - heartbeat_age).isoformat(timespec="seconds")
        holder = {
            "run_id": "pod",
            "host": "airflow-worker-0",
            "pid": 1,
            "started": beat,
            "heartbeat": beat,
        }
        s3.put_object(Bucket=settings.bucket, Key=key, Body=json.dumps(holder).encode())

    held_by_a_pod(timedelta(seconds=5))
    with pytest.raises(SiteBusy, match="run pod, started .* on airflow-worker-0"):
        lock(settings, site, "early", wait=False, stale_after=timedelta(minutes=1)).acquire()
    held_by_a_pod(timedelta(minutes=2))
    messages: list[str] = []
    with lock(settings, site, "late", messages, wait=False, stale_after=timedelta(minutes=1)):
        assert lock_holder(s3, settings.bucket, site).run_id == "late"
    assert re.search(r"from run pod, .*: no heartbeat for 1[23]\d s$", messages[0]), messages


def test_the_heartbeat_keeps_a_long_run_from_looking_stale(settings, s3):
    site = "long.example.com"
    stale_after = timedelta(seconds=3)
    with lock(settings, site, "long", stale_after=stale_after):
        time.sleep(5)  # longer than stale_after: only the heartbeat keeps it fresh
        with pytest.raises(SiteBusy, match="run long"):
            lock(settings, site, "impatient", wait=False, stale_after=stale_after).acquire()
    assert lock_holder(s3, settings.bucket, site) is None


def test_a_run_whose_lock_is_taken_over_is_interrupted_and_leaves_the_new_lock(settings, s3):
    """The heartbeat finds the lock taken: it interrupts the run, the block ends in
    LockLost naming the new holder, and giving back does not delete the new holder's lock."""
    site = "usurped.example.com"
    interrupted = threading.Event()
    held = lock(settings, site, "paused", stale_after=timedelta(seconds=3))
    held.on_lost = interrupted.set
    with pytest.raises(LockLost) as raised, held:
        new_holder = take_over(s3, settings.bucket, site, "usurper")
        noticed = interrupted.wait(timeout=10)
        raise KeyboardInterrupt  # what the interrupt does to the run
    assert noticed, "the heartbeat did not interrupt the run"
    assert str(raised.value) == (
        f"lost the lock of {site} to {new_holder}; this run stopped before its next write: the "
        "steps it committed stay, and the run holding the site now decides what follows"
    )
    assert lock_holder(s3, settings.bucket, site).run_id == "usurper"


def test_a_run_confirms_its_lock_before_a_write_even_between_heartbeats(settings, s3):
    """A heartbeat not yet due (a laptop that slept) does not let a taken-over run write."""
    site = "asleep.example.com"
    held = lock(settings, site, "sleeper", stale_after=timedelta(hours=1))
    with pytest.raises(LockLost, match=f"lost the lock of {site} to run usurper"), held:
        held.confirm_held()  # still ours: renews it
        take_over(s3, settings.bucket, site, "usurper")
        held.confirm_held()
    assert lock_holder(s3, settings.bucket, site).run_id == "usurper"


def test_an_airflow_run_holds_its_sites_across_tasks_and_a_terminal_run_waits(settings, s3, caplog):
    """The medallion DAG's claim and release tasks, as plain functions in two calls."""
    sys.path.insert(0, str(DAGS_FOLDER))
    from orchestration.site_locks import claim_sites, release_sites

    runs = [
        {"site": "dag-a.example.com", "run_id": "manual__1"},
        {"site": "dag-b.example.com", "run_id": "manual__1"},
    ]
    claim_sites(settings, runs, hold_for=timedelta(hours=4))
    claim_sites(settings, runs, hold_for=timedelta(hours=4))  # a retried claim task
    holder = lock_holder(s3, settings.bucket, "dag-a.example.com")
    assert (holder.run_id, holder.pid) == ("manual__1", 0)
    assert holder.describe().endswith("(an Airflow run)")
    with pytest.raises(SiteBusy, match="being written by run manual__1, .*an Airflow run"):
        lock(settings, "dag-a.example.com", "terminal", wait=False).acquire()
    release_sites(settings, runs)
    assert lock_holder(s3, settings.bucket, "dag-b.example.com") is None
    with lock(settings, "dag-a.example.com", "terminal", wait=False):
        release_sites(settings, runs[:1])  # no longer the holder: leaves it alone
        assert lock_holder(s3, settings.bucket, "dag-a.example.com").run_id == "terminal"
    lost = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    holder = (
        rf"run terminal, started .* UTC on {re.escape(socket.gethostname())} \(pid {os.getpid()}\)"
    )
    assert len(lost) == 1, lost
    assert re.fullmatch(
        rf"dag-a\.example\.com was not held by run manual__1 any more: {holder} holds it", lost[0]
    ), lost[0]
