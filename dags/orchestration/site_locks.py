"""The medallion DAG holds each of its sites' locks (worker.ingest.site_lock) from
before its first notebook until after its last, failed or not, so that a terminal
`make local-run` of the same site waits for it, and it for the terminal run. Plain
functions, tested without Airflow."""

import logging
from datetime import timedelta

from lakehouse.settings import LakeSettings
from worker.ingest.raw_store import s3_client
from worker.ingest.site_lock import lock_holder, release_held_by, site_lock

log = logging.getLogger(__name__)


def claim_sites(settings: LakeSettings, runs: list[dict], hold_for: timedelta) -> None:
    """Take the lock of every site in `runs`, waiting for any other holder. With no
    process to renew it, a lock not given back is taken over after `hold_for`."""
    for run in runs:
        lock = site_lock(
            settings,
            run["site"],
            run["run_id"],
            wait=True,
            log=log.info,
            detached=True,
            stale_after=hold_for,
        )
        lock.acquire()
        log.info("holding %s for run %s", run["site"], run["run_id"])


def release_sites(settings: LakeSettings, runs: list[dict]) -> None:
    """Give back every site of `runs`. A lock with no heartbeat is lost only once
    `claim_sites`' `hold_for` has passed, so one found taken over means the notebooks
    ran past their total timeout and another run took the site: the warning names it."""
    s3 = s3_client(settings)
    for run in runs:
        if release_held_by(s3, settings.bucket, run["site"], run["run_id"]):
            log.info("gave back %s", run["site"])
            continue
        holder = lock_holder(s3, settings.bucket, run["site"])
        now = holder.describe() if holder else "nobody"
        log.warning(
            "%s was not held by run %s any more: %s holds it", run["site"], run["run_id"], now
        )
