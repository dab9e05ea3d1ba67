"""A site's lock taken over as another machine's stale takeover would write it."""

import json
from datetime import UTC, datetime

from worker.ingest.site_lock import LOCKS_PREFIX


def take_over(s3, bucket: str, site: str, run_id: str) -> str:
    """Write `run_id` of `other-host` as the holder of `site`; how a message names it."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    holder = {"run_id": run_id, "host": "other-host", "pid": 4242, "started": now, "heartbeat": now}
    s3.put_object(
        Bucket=bucket, Key=f"{LOCKS_PREFIX}/{site}.json", Body=json.dumps(holder).encode()
    )
    return f"run {run_id}, started {now[:16].replace('T', ' ')} UTC on other-host (pid 4242)"
