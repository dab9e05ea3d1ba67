"""One writer per site: a lock object in the lake's own bucket, `_locks/<site>.json`.

A terminal run, Airflow and the Kind cluster all reach the same bucket, so they all see
the same lock. It is taken with an S3 conditional write (`If-None-Match: *`, which
exactly one of several racing writers wins) and kept fresh by a heartbeat that rewrites
it only while it is still ours (`If-Match: <our ETag>`). A lock is stale when its holder
ran on this machine and its process is gone, or when its heartbeat is older than
`stale_after`; a stale lock is taken over with the same compare-and-swap, and the
takeover is logged.

A run whose lock was taken over (it was paused too long, or judged dead) stops: the
heartbeat interrupts the main thread as Ctrl-C would, which ends the run between two
commits, and `confirm_held` renews the lock before each step, so a heartbeat not yet
due (a laptop that slept) stops it too. The `with` block then raises `LockLost` naming
the new holder.
"""

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from types import FrameType

LOCKS_PREFIX = "_locks"
_LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "404"}


class SiteBusy(RuntimeError):
    """Another run holds the site, and this run was asked not to wait."""


class LockLost(RuntimeError):
    """Another run took this run's site over while it ran; this run stopped."""


def interrupt_this_process() -> None:
    """What Ctrl-C does: SIGINT to this process, handled by its main thread."""
    os.kill(os.getpid(), signal.SIGINT)


@dataclass(frozen=True)
class LockHolder:
    run_id: str
    host: str
    pid: int
    started: str  # ISO time, UTC
    heartbeat: str  # ISO time, UTC

    def describe(self) -> str:
        started = datetime.fromisoformat(self.started)
        where = f"{self.host} (pid {self.pid})" if self.pid else f"{self.host} (an Airflow run)"
        return f"run {self.run_id}, started {started:%Y-%m-%d %H:%M} UTC on {where}"

    def stale_reason(self, stale_after: timedelta) -> str | None:
        """Why this holder can no longer be running, or None while it may be."""
        if self.pid and self.host == socket.gethostname() and not _process_alive(self.pid):
            return f"its process {self.pid} is gone"
        silent = datetime.now(UTC) - datetime.fromisoformat(self.heartbeat)
        if silent > stale_after:
            return f"no heartbeat for {int(silent.total_seconds())} s"
        return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # Someone else's process: alive.
        return True
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SiteLock:
    """`with SiteLock(...):` holds the site for the block; see the module docstring.

    A `detached` lock outlives this process: an Airflow run claims it in one task and
    gives it back in another (`release_held_by`). It has no heartbeat, so `stale_after`
    must cover the whole run.
    """

    def __init__(
        self,
        s3,
        bucket: str,
        site: str,
        run_id: str,
        *,
        wait: bool = True,
        stale_after: timedelta = timedelta(minutes=10),
        log: Callable[[str], None] = print,
        poll_seconds: float = 2.0,
        detached: bool = False,
        on_lost: Callable[[], None] = interrupt_this_process,
    ):
        self.s3, self.bucket, self.site, self.run_id = s3, bucket, site, run_id
        self.key = f"{LOCKS_PREFIX}/{site}.json"
        self.wait, self.stale_after, self.log = wait, stale_after, log
        self.poll_seconds, self.detached, self.on_lost = poll_seconds, detached, on_lost
        self._etag: str | None = None
        self._started = _now()
        self._stop = threading.Event()
        self._stopping = threading.Lock()  # no interrupt once the block has ended
        self._heartbeat: threading.Thread | None = None
        self.lost = False  # another run took the lock over while this one held it
        self._saved_sigint: Callable[[int, FrameType | None], Any] | int | None = None

    # --- S3 ------------------------------------------------------------------------
    def _body(self) -> bytes:
        pid = 0 if self.detached else os.getpid()
        holder = LockHolder(self.run_id, socket.gethostname(), pid, self._started, _now())
        return json.dumps(asdict(holder)).encode()

    def _put(self, **condition) -> bool:
        """Write our holder under the condition; False when another writer won."""
        try:
            response = self.s3.put_object(
                Bucket=self.bucket, Key=self.key, Body=self._body(), **condition
            )
        except ClientError as error:
            if error.response["Error"]["Code"] in _LOST_RACE:
                return False
            raise
        self._etag = response["ETag"]
        return True

    def current(self) -> tuple[LockHolder, str] | None:
        """The holder now, with the ETag of its lock object; None when free."""
        try:
            found = self.s3.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as error:
            if error.response["Error"]["Code"] in _LOST_RACE:
                return None
            raise
        return LockHolder(**json.loads(found["Body"].read())), found["ETag"]

    # --- taking and giving back --------------------------------------------------------
    def acquire(self) -> None:
        waiting_for = None
        while not self._put(IfNoneMatch="*"):
            current = self.current()
            if current is None:
                continue  # Released between our write and our read: try again.
            holder, etag = current
            if holder.run_id == self.run_id and self._put(IfMatch=etag):
                break  # This run's own earlier claim: a retried Airflow task.
            reason = holder.stale_reason(self.stale_after)
            if reason and self._put(IfMatch=etag):
                self.log(f"took over the lock of {self.site} from {holder.describe()}: {reason}")
                break
            if reason:
                continue  # Another run took it over first.
            if not self.wait:
                raise SiteBusy(
                    f"site {self.site} is being written by {holder.describe()}; "
                    "wait for it to finish, or run again without --no-wait to queue"
                )
            if waiting_for != holder.run_id:
                self.log(f"waiting for {holder.describe()}, which is writing {self.site}")
                waiting_for = holder.run_id
            time.sleep(self.poll_seconds)
        if self.detached:
            return
        self._interruptible()
        self._heartbeat = threading.Thread(target=self._beat, daemon=True, name="site-lock")
        self._heartbeat.start()

    def _interruptible(self) -> None:
        """A process started with SIGINT ignored (`cmd &` in a script) would not stop."""
        in_main = threading.current_thread() is threading.main_thread()
        if in_main and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            self._saved_sigint = signal.signal(signal.SIGINT, signal.default_int_handler)

    def confirm_held(self) -> None:
        """Renew the lock now, before a write; LockLost if another run has taken it. An
        S3 server that does not answer confirms nothing: the step then says so itself."""
        try:
            still_ours = not self.lost and self._put(IfMatch=self._etag)
        except BotoCoreError:
            return
        if not still_ours:
            self.lost = True
            raise self.lost_error()

    def _beat(self) -> None:
        interval = max(1.0, self.stale_after.total_seconds() / 5)
        while not self._stop.wait(interval):
            try:
                still_ours = self._put(IfMatch=self._etag)
            except (BotoCoreError, ClientError):
                continue  # The server is away; the run itself will say so.
            if not still_ours:
                self.lost = True
                with self._stopping:
                    if not self._stop.is_set():
                        self.on_lost()
                return

    def _new_holder(self) -> str:
        try:
            current = self.current()
        except Exception:  # Unreachable, or not a lock we can read: say so, go on.
            return "another run"
        return current[0].describe() if current else "nobody (its lock was deleted)"

    def lost_error(self) -> LockLost:
        return LockLost(
            f"lost the lock of {self.site} to {self._new_holder()}; this run stopped before "
            "its next write: the steps it committed stay, and the run holding the site now "
            "decides what follows"
        )

    def release(self) -> None:
        with self._stopping:
            self._stop.set()
        if self._heartbeat:
            self._heartbeat.join()
        if self._saved_sigint is not None:
            signal.signal(signal.SIGINT, self._saved_sigint)
            self._saved_sigint = None
        if self._etag is None:
            return
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self._etag)
        except ClientError as error:
            if error.response["Error"]["Code"] not in _LOST_RACE:
                raise
        except BotoCoreError:
            # Not raised over the run's own error: once this process is gone, the next
            # run on this machine takes the lock over at once (elsewhere: after a timeout).
            self.log(f"could not give back the lock of {self.site}: the S3 server is unreachable")
        self._etag = None

    def release_if_held(self) -> bool:
        """Give back a lock this run id took in another process (a detached one)."""
        current = self.current()
        if current is None or current[0].run_id != self.run_id:
            return False
        self._etag = current[1]
        self.release()
        return True

    def __enter__(self) -> "SiteLock":
        self.acquire()
        return self

    def __exit__(self, exc_type, *_) -> None:
        try:
            self.release()
        except KeyboardInterrupt:
            if not self.lost:
                raise  # A real Ctrl-C.
        # Only a run that was stopped says so: one whose last write came first succeeded.
        if self.lost and exc_type is not None and exc_type is not LockLost:
            raise self.lost_error() from None


def release_held_by(s3, bucket: str, site: str, run_id: str) -> bool:
    """Give back the lock of `site` if `run_id` holds it; False when it does not."""
    return SiteLock(s3, bucket, site, run_id).release_if_held()


def lock_holder(s3, bucket: str, site: str) -> LockHolder | None:
    """Who holds the site now, if anyone (for status lines)."""
    current = SiteLock(s3, bucket, site, run_id="").current()
    return current[0] if current else None


def site_lock(
    settings,
    site: str,
    run_id: str,
    *,
    wait: bool,
    log: Callable[[str], None],
    detached: bool = False,
    stale_after: timedelta | None = None,
) -> SiteLock:
    """The lock of `site` in the configured lake, for `with` (or, detached, `acquire`)."""
    from worker.ingest.raw_store import ensure_bucket, s3_client

    s3 = s3_client(settings)
    ensure_bucket(s3, settings.bucket)
    return SiteLock(
        s3,
        settings.bucket,
        site,
        run_id,
        wait=wait,
        stale_after=stale_after or timedelta(seconds=settings.lock_stale_seconds),
        log=log,
        detached=detached,
    )
