"""One release at a time per environment: a release lock with its holder, behind one small interface.

Which backend holds the lock (``lock_for_runbook``):

- the runbook has a ``database:`` (and no ``stack:``) -> ``PostgresLock``: a session advisory lock
  (``pg_try_advisory_lock(NAMESPACE, key)``, the key derived from the environment name) on a connection
  of its own (the runbook's ``dsn``) held open for the whole run. PostgreSQL frees it when that session
  ends, so a killed run cannot keep it. The holder record travels in a comment of the locking
  statement, which ``pg_stat_activity.query`` keeps while the session is idle: no table to create (the
  app role needs no CREATE privilege), no row to clean up after a crash (the record dies with the
  session), and ``pg_locks`` joined with ``pg_stat_activity`` names the holder. Seen by the same role
  (or one with ``pg_read_all_stats``): every run of an environment uses the runbook's ``dsn``.
- otherwise -> ``DirectoryLock``: ``<journal dir>/locks/<env>.lock/`` created with ``os.mkdir`` (atomic)
  holding ``holder.json``. It is stale when its holder ran on this host and that process is gone
  (psutil, also checking the process's start time against pid reuse); the next run reports it and
  takes it over. A holder on another host cannot be checked from here: it stays held until
  ``releasegate lock break``.

Not built: a Docker backend would hold the lock as a uniquely named container (``docker create
--name releasegate-lock-<env>`` fails atomically for the second run; its labels carry the holder), a
Kubernetes one a ``coordination.k8s.io`` Lease (``holderIdentity``, ``leaseDurationSeconds`` renewed
while the run lives: an expired lease is stale). See docs/rollback.md.

A break (``break_``) is written to ``<journal dir>/locks/<env>.breaks.jsonl``; the next run that takes
the lock journals it (``pending_breaks``) and clears the file.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import re
import shutil
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from filelock import FileLock

from releasegate.checks import secrets
from releasegate.checks._support import processes
from releasegate.checks.errors import CheckError

if TYPE_CHECKING:
    from releasegate.checks.runbook.model import Runbook

NAMESPACE = 0x52474C4B  # "RGLK": pg_locks.classid of every releasegate lock
HOLDER_MARK = "releasegate-lock"
APPLICATION_NAME = "releasegate lock"
POLL_S = 1.0
FIELD_MAX = 300  # pg_stat_activity keeps track_activity_query_size bytes (1024 by default) of the query
HOLDER_FILE = "holder.json"
FRESH_DIR_S = 10.0  # a lock directory without holder.json younger than this is being taken right now

FREE, HELD, STALE = "free", "held", "stale"


class LockError(CheckError):
    """The lock's backend could not be asked (database unreachable, folder not writable); one line."""


@dataclass(frozen=True)
class Holder:
    """Who holds an environment's release lock."""

    environment: str
    release: str | None
    operator: str | None
    ci_job_url: str | None
    host: str
    pid: int
    since: str  # ISO 8601, UTC
    run_id: str | None = None
    pid_started: float | None = None  # the process's start time (psutil), against pid reuse

    def describe(self) -> str:
        parts = [f"release {self.release or '?'}", f"operator {self.operator or '?'}"]
        if self.ci_job_url:
            parts.append(f"CI job {self.ci_job_url}")
        parts += [f"host {self.host} pid {self.pid}", f"since {self.since}"]
        return secrets.redact(", ".join(parts))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Holder:
        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)[:FIELD_MAX]

        pid = data.get("pid")
        started = data.get("pid_started")
        return cls(environment=text("environment") or "?", release=text("release"), operator=text("operator"),
                   ci_job_url=text("ci_job_url"), host=text("host") or "?",
                   pid=int(pid) if isinstance(pid, int) else 0, since=text("since") or "?", run_id=text("run_id"),
                   pid_started=float(started) if isinstance(started, int | float) else None)


def ci_job_url(env: Mapping[str, str] | None = None) -> str | None:
    """The CI job's URL: GitLab's ``CI_JOB_URL``, or GitHub Actions' run URL; None outside CI."""
    env = os.environ if env is None else env
    if env.get("CI_JOB_URL"):
        return env["CI_JOB_URL"]
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL") or "https://github.com"
        url = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
        attempt = env.get("GITHUB_RUN_ATTEMPT")
        return f"{url}/attempts/{attempt}" if attempt else url
    return None


def this_operator(approver: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The approver when there is one, else ``$USER`` (or the login name)."""
    if approver:
        return approver
    env = os.environ if env is None else env
    if env.get("USER"):
        return env["USER"]
    with contextlib.suppress(Exception):
        return getpass.getuser()
    return None


def holder_for(environment: str, *, release: str | None, approver: str | None = None, run_id: str | None = None,
               now: float | None = None) -> Holder:
    """This process as the holder of ``environment``'s lock."""
    pid = os.getpid()
    started = None
    with contextlib.suppress(psutil.Error):
        started = psutil.Process(pid).create_time()
    since = datetime.fromtimestamp(now if now is not None else time.time(), UTC).isoformat(timespec="seconds")
    return Holder(environment=environment, release=release, operator=this_operator(approver),
                  ci_job_url=ci_job_url(), host=socket.gethostname(), pid=pid, since=since, run_id=run_id,
                  pid_started=started)


@dataclass(frozen=True)
class LockStatus:
    """What a backend says about an environment's lock."""

    environment: str
    backend: str
    state: str  # FREE, HELD or STALE
    holder: Holder | None = None
    detail: str = ""  # where the lock lives; for a stale lock, why it is stale

    def describe(self) -> str:
        where = f" ({self.backend}: {self.detail})" if self.detail else f" ({self.backend})"
        if self.state == FREE:
            return f"environment {self.environment} is not locked{where}"
        who = self.holder.describe() if self.holder else "holder unknown"
        stale = "STALE lock (its holder is gone)" if self.state == STALE else "locked"
        return secrets.redact(f"environment {self.environment} is {stale} by {who}{where}")


@dataclass(frozen=True)
class Acquired:
    """How ``acquire`` went: taken or not, after how long, whom it waited for, what it took over."""

    acquired: bool
    waited_s: float = 0.0
    blocked_by: LockStatus | None = None  # the holder seen last (when not acquired, the one that kept it)
    took_over: LockStatus | None = None  # a stale lock that this run replaced
    waits: tuple[LockStatus, ...] = field(default=())  # every holder seen while waiting, once each


WaitCallback = Callable[[LockStatus, float], None]
"""Called when ``acquire`` starts waiting for a holder (and when the holder changes): status, seconds left."""


class ReleaseLock(ABC):
    """An environment's release lock. ``acquire`` and ``release`` from the run that holds it;
    ``status`` and ``break_`` from anywhere."""

    NAME = ""

    def __init__(self, environment: str, breaks_dir: Path) -> None:
        self.environment = environment
        self.breaks_dir = breaks_dir

    def acquire(self, holder: Holder, timeout_s: float = 0.0, *, on_wait: WaitCallback | None = None,
                clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Acquired:
        """Take the lock, waiting up to ``timeout_s`` seconds for its holder; never raises for a held lock."""
        start = clock()
        seen: list[LockStatus] = []
        took_over: LockStatus | None = None
        while True:
            taken, status = self._try(holder)
            if taken:
                took_over = status if status is not None and status.state == STALE else took_over
                return Acquired(True, clock() - start, seen[-1] if seen else None, took_over, tuple(seen))
            assert status is not None
            left = timeout_s - (clock() - start)
            if not seen or seen[-1].holder != status.holder:
                seen.append(status)
                if on_wait is not None and left > 0:
                    on_wait(status, left)
            if left <= 0:
                return Acquired(False, clock() - start, status, None, tuple(seen))
            sleep(min(POLL_S, left))

    @abstractmethod
    def _try(self, holder: Holder) -> tuple[bool, LockStatus | None]:
        """One attempt: (True, the stale lock replaced or None) or (False, who holds it)."""

    @abstractmethod
    def release(self) -> bool:
        """Give the lock back; True when this process still held it."""

    @abstractmethod
    def status(self) -> LockStatus: ...

    @abstractmethod
    def _break(self) -> LockStatus:
        """Free the lock whoever holds it; returns the status before."""

    def break_(self, reason: str, by: str | None) -> LockStatus:
        """Free the lock by hand and record why, for the next run's journal; returns the status before."""
        before = self._break()
        record = {"environment": self.environment, "backend": self.NAME, "reason": reason, "by": by,
                  "at": datetime.now(UTC).isoformat(timespec="seconds"), "state_before": before.state,
                  "holder": before.holder.as_dict() if before.holder else None}
        self.breaks_dir.mkdir(parents=True, exist_ok=True)
        with open(self._breaks_file(), "a", encoding="utf-8") as out:
            out.write(secrets.redact(json.dumps(record)) + "\n")
        return before

    def pending_breaks(self) -> list[dict[str, Any]]:
        """The breaks recorded since the last run took the lock; cleared: call it once the lock is held."""
        path = self._breaks_file()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        path.unlink(missing_ok=True)
        found = []
        for line in lines:
            with contextlib.suppress(json.JSONDecodeError):
                record = json.loads(line)
                if isinstance(record, dict):
                    found.append(record)
        return found

    def _breaks_file(self) -> Path:
        return self.breaks_dir / f"{safe_name(self.environment)}.breaks.jsonl"


def safe_name(environment: str) -> str:
    """The environment as a file name: runbook names are one line but may hold any character."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", environment) or "_"
    if cleaned != environment:
        cleaned += "-" + hashlib.sha256(environment.encode()).hexdigest()[:8]
    return cleaned


# ---- PostgreSQL: a session advisory lock -----------------------------------------------------


def advisory_key(environment: str) -> int:
    """The second key of ``pg_try_advisory_lock(NAMESPACE, key)``: a positive int4 from the environment name."""
    return int.from_bytes(hashlib.sha256(f"releasegate:{environment}".encode()).digest()[:4], "big") & 0x7FFFFFFF


def holder_comment(holder: Holder) -> str:
    """The holder as a SQL comment: JSON with every "*" written as a unicode escape, so that neither "*/" nor a
    nested "/*" can occur in it."""
    data = {k: (v[:FIELD_MAX] if isinstance(v, str) else v) for k, v in holder.as_dict().items()}
    text = json.dumps(data, ensure_ascii=True).replace("*", "\\u002a")
    return f"/* {HOLDER_MARK} {text} */"


def holder_from_query(query: str | None) -> Holder | None:
    if not query:
        return None
    match = re.search(re.escape(HOLDER_MARK) + r" (\{.*\}) \*/", query)
    if match is None:
        return None
    try:
        data = json.loads(match.group(1))
    except json.JSONDecodeError:
        return None
    return Holder.from_dict(data) if isinstance(data, dict) else None


class PostgresLock(ReleaseLock):
    """A session advisory lock on the runbook's database, on a connection held for the whole run."""

    NAME = "postgres"

    def __init__(self, environment: str, dsn: str, breaks_dir: Path) -> None:
        super().__init__(environment, breaks_dir)
        self.dsn = dsn
        self.key = advisory_key(environment)
        self._conn: Any = None

    @property
    def where(self) -> str:
        from releasegate.checks.database.connection import database_name

        return f"advisory lock ({NAMESPACE}, {self.key}) in database {database_name(self.dsn)}"

    def _connect(self) -> Any:
        import psycopg

        from releasegate.checks.database.connection import CONNECT_TIMEOUT_S, describe

        try:
            return psycopg.connect(self.dsn, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True,
                                   application_name=APPLICATION_NAME, keepalives=1, keepalives_idle=30)
        except Exception as exc:
            raise LockError(describe(exc, self.dsn, "release lock")) from None

    def _try(self, holder: Holder) -> tuple[bool, LockStatus | None]:
        if self._conn is None:
            self._conn = self._connect()
        # no parameters: psycopg sends the text as it is (a "%" in the comment needs no escaping); the comment
        # stays in pg_stat_activity.query for as long as the session is idle
        statement = f"SELECT pg_try_advisory_lock({NAMESPACE}, {self.key}) {holder_comment(holder)}"
        try:
            row = self._conn.execute(statement).fetchone()
        except Exception as exc:
            self._close()
            raise LockError(f"release lock: {secrets.redact(str(exc).strip().splitlines()[0])}") from None
        if row and row[0]:
            return True, None
        return False, self.status()

    def release(self) -> bool:
        if self._conn is None:
            return False
        held = False
        with contextlib.suppress(Exception):
            row = self._conn.execute(f"SELECT pg_advisory_unlock({NAMESPACE}, {self.key})").fetchone()
            held = bool(row and row[0])
        self._close()
        return held

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn = None

    def _holders(self) -> list[tuple[int, str | None]]:
        query = ("SELECT a.pid, a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                 " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::oid AND l.objid = %s::oid"
                 " AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname ="
                 " current_database())")
        conn = self._connect()
        try:
            rows = conn.execute(query, (NAMESPACE, self.key)).fetchall()
        except Exception as exc:
            raise LockError(f"release lock: {secrets.redact(str(exc).strip().splitlines()[0])}") from None
        finally:
            conn.close()
        return [(int(pid), text) for pid, text in rows]

    def status(self) -> LockStatus:
        holders = self._holders()
        if not holders:
            return LockStatus(self.environment, self.NAME, FREE, None, self.where)
        backend_pid, query = holders[0]
        holder = holder_from_query(query)
        detail = f"{self.where}, session pid {backend_pid}"
        if holder is None:
            detail += " (holder record not readable: another role holds it, or not a releasegate run)"
        return LockStatus(self.environment, self.NAME, HELD, holder, detail)

    def _break(self) -> LockStatus:
        before = self.status()
        conn = self._connect()
        try:
            for backend_pid, _query in self._holders():
                conn.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))
        except Exception as exc:
            raise LockError(f"release lock: cannot end the holder's session: "
                            f"{secrets.redact(str(exc).strip().splitlines()[0])}") from None
        finally:
            conn.close()
        return before


# ---- a directory beside the journals ------------------------------------------------------------


class DirectoryLock(ReleaseLock):
    """``<dir>/<env>.lock/`` made with ``os.mkdir``, its holder in ``holder.json``; stale when the holder's
    process (on this host) is gone."""

    NAME = "directory"

    def __init__(self, environment: str, directory: Path) -> None:
        super().__init__(environment, directory)
        self.directory = directory
        self.path = directory / f"{safe_name(environment)}.lock"
        self._mine: Holder | None = None

    def _guard(self) -> FileLock:
        # held only while a lock is checked and taken over: two runs never both replace the same stale lock
        return FileLock(self.directory / f"{safe_name(self.environment)}.guard")

    def _try(self, holder: Holder) -> tuple[bool, LockStatus | None]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LockError(f"release lock: cannot create {self.directory}: {exc.strerror}") from None
        with self._guard():
            replaced: LockStatus | None = None
            try:
                os.mkdir(self.path)
            except FileExistsError:
                current = self.status()
                if current.state != STALE:
                    return False, current
                self._remove()
                os.mkdir(self.path)
                replaced = current
            except OSError as exc:
                raise LockError(f"release lock: cannot create {self.path}: {exc.strerror}") from None
            temporary = self.path / f".{HOLDER_FILE}.{os.getpid()}.tmp"
            temporary.write_text(json.dumps(holder.as_dict()), encoding="utf-8")
            os.replace(temporary, self.path / HOLDER_FILE)
            self._mine = holder
            return True, replaced

    def _read(self) -> Holder | None:
        try:
            data = json.loads((self.path / HOLDER_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        return Holder.from_dict(data) if isinstance(data, dict) else None

    def status(self) -> LockStatus:
        if not self.path.is_dir():
            return LockStatus(self.environment, self.NAME, FREE, None, str(self.path))
        holder = self._read()
        if holder is None:
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:  # given back meanwhile
                return LockStatus(self.environment, self.NAME, FREE, None, str(self.path))
            if age < FRESH_DIR_S:
                return LockStatus(self.environment, self.NAME, HELD, None, f"{self.path} (being taken)")
            return LockStatus(self.environment, self.NAME, STALE, None, f"{self.path}: no {HOLDER_FILE}")
        why = self._why_stale(holder)
        if why:
            return LockStatus(self.environment, self.NAME, STALE, holder, f"{self.path}: {why}")
        return LockStatus(self.environment, self.NAME, HELD, holder, str(self.path))

    @staticmethod
    def _why_stale(holder: Holder) -> str:
        if holder.host != socket.gethostname():
            return ""  # another machine's process cannot be checked from here
        if not processes.alive(holder.pid):
            return f"process {holder.pid} no longer runs on {holder.host}"
        if holder.pid_started is not None:
            with contextlib.suppress(psutil.Error):
                if abs(psutil.Process(holder.pid).create_time() - holder.pid_started) > 1.0:
                    return f"process {holder.pid} on {holder.host} is another process now (pid reused)"
        return ""

    def release(self) -> bool:
        if self._mine is None:
            return False
        with self._guard():
            current = self._read()
            mine = current is not None and replace(current, pid_started=None) == replace(self._mine, pid_started=None)
            if mine:
                self._remove()
        self._mine = None
        return mine

    def _remove(self) -> None:
        # renamed first: a reader never sees a half-deleted lock directory as a lock
        trash = self.path.with_name(f"{self.path.name}.removed.{os.getpid()}.{time.time_ns()}")
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.path, trash)
            shutil.rmtree(trash, ignore_errors=True)

    def _break(self) -> LockStatus:
        with self._guard():
            before = self.status()
            self._remove()
        return before


def lock_for_runbook(environment: str, runbook: Runbook, locks: Path) -> ReleaseLock:
    """The lock a run of ``runbook`` takes, the same with or without xdist and from the CLI.

    A runbook with a ``stack:`` section gets the directory lock even with a database: its database is
    the one the run itself starts (on the first scenario), so it cannot hold a lock taken before that.
    """
    return lock_for(environment, runbook.database.dsn if runbook.database and not runbook.stack else None, locks)


def lock_for(environment: str, database_dsn: str | None, locks: Path) -> ReleaseLock:
    """The environment's lock: PostgreSQL when the runbook has a database, else a directory in ``locks``
    (``<journal dir>/locks`` unless the ini value ``releasegate_lock_dir`` names a folder all runs share)."""
    if database_dsn:
        return PostgresLock(environment, database_dsn, locks)
    return DirectoryLock(environment, locks)
