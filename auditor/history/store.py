"""The run history: one SQLite file (stdlib sqlite3) holding each run's metadata, summary and findings.

What is stored is what findings.json already holds (no secret reaches either), never the raw snapshot unless
asked. One run is written in one transaction, so a run is stored whole or not at all, whatever kills the
process. A run is stored first as unfinished and marked finished (`completed`: the order in which runs
finished) only as the last step of its run (auditor/history/tracking.py); drift and trends read finished runs.
The database runs in WAL mode with a busy timeout: several audits (a portfolio's tenants, two cron
jobs) may write to one file at once; writers queue for the lock instead of failing or corrupting it. WAL needs
a local file system (https://www.sqlite.org/wal.html): do not put the file on a network share.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError, InputError
from auditor.models.findings import Finding, FindingsDocument, Severity, Status
from auditor.redact import redact

SCHEMA_VERSION = 2
"""1: the first schema. 2: runs.completed (0 while a run is unfinished, else its place in the order runs finished).
A version-1 file is upgraded when a run opens it for writing (its runs count as complete, in id order) and is
read as such, unchanged, by the reading commands; a newer version is refused."""
SQLITE_MAX_INT = 2**63 - 1
BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another run's transaction before giving up."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    tenant_domain TEXT NOT NULL,
    tenant_name TEXT NOT NULL,
    baseline_file TEXT NOT NULL,      -- the file NAME: history groups runs by tenant id and baseline name
    baseline_sha256 TEXT NOT NULL,
    collected_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    summary TEXT NOT NULL,            -- findings.json's summary (JSON)
    drift_counts TEXT,                -- {"new": n, "resolved": n, "changed": n, "unchanged": n} or NULL
    snapshot TEXT,                    -- the raw snapshot, only when asked for
    completed INTEGER NOT NULL DEFAULT 0  -- 0: unfinished (killed or still running), n: the n-th run to finish
);
CREATE INDEX IF NOT EXISTS runs_by_tenant ON runs (tenant_id, baseline_file, id);
CREATE INDEX IF NOT EXISTS runs_completed ON runs (tenant_id, baseline_file, completed);
CREATE TABLE IF NOT EXISTS findings (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    check_id TEXT NOT NULL,
    integration TEXT NOT NULL,
    resource TEXT NOT NULL,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    finding TEXT NOT NULL,            -- the finding as findings.json writes it (JSON)
    PRIMARY KEY (run_id, position)
);
"""


def default_path(environ: dict[str, str] | None = None) -> Path:
    """$XDG_DATA_HOME/mailbox-auditor/history.sqlite, else ~/.local/share/mailbox-auditor/history.sqlite."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "mailbox-auditor" / "history.sqlite"


@dataclass(frozen=True)
class StoredRun:
    id: int
    tenant_id: str
    tenant_domain: str
    tenant_name: str
    baseline_file: str
    baseline_sha256: str
    collected_at: str
    recorded_at: str
    tool_version: str
    summary: dict[str, Any]
    drift_counts: dict[str, int] | None
    """None when the run was recorded without a comparison."""
    completed: bool = True
    """False: the run never finished (killed or still running); drift and trends ignore it."""

    def count(self, status: Status) -> int:
        return int((self.summary.get("by_status") or {}).get(status.value, 0))

    def failures(self, severity: Severity) -> int:
        return int((self.summary.get("failures_by_severity") or {}).get(severity.value, 0))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "tenant": {"id": self.tenant_id, "domain": self.tenant_domain, "name": self.tenant_name},
                "baseline_file": self.baseline_file, "baseline_sha256": self.baseline_sha256,
                "collected_at": self.collected_at, "recorded_at": self.recorded_at, "tool_version": self.tool_version,
                "summary": self.summary, "drift": self.drift_counts,
                "completed": self.completed}


class HistoryStore:
    """Opens a connection per operation, so one store may be used from several threads."""

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = path
        self.create = create
        self._ready = False
        self._pinned = threading.local()
        self._completed = "completed"
        """The column, or `id` for a version-1 file opened read-only (all its runs finished, in id order)."""

    @property
    def _columns(self) -> str:
        return f"{_RUN_COLUMNS}, {self._completed}"

    # -- writing -------------------------------------------------------------------------------------------------

    def record(self, doc: FindingsDocument, snapshot_json: str | None = None) -> int:
        """Store one finished run and its findings in one transaction; returns the run id."""
        with self._transaction() as con:
            run_id = self._insert(con, doc, snapshot_json)
            self._complete(con, run_id, doc)
        return run_id

    def begin(self, doc: FindingsDocument, snapshot_json: str | None = None) -> int:
        """Store a run and its findings as unfinished (committed now: `auditor history` lists it as incomplete
        should the process die before `complete`); returns the run id."""
        with self._transaction() as con:
            return self._insert(con, doc, snapshot_json)

    @contextmanager
    def finishing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: other runs' writes wait) in which this thread's reads see the
        history as it stands; committed when the block ends, rolled back (and the run left unfinished) if it
        raises or the process dies."""
        with self._transaction() as con:
            self._pinned.con = con
            try:
                yield con
            finally:
                self._pinned.con = None

    def complete(self, con: sqlite3.Connection, run_id: int, doc: FindingsDocument) -> None:
        """Inside `finishing`: mark the run finished, with the drift its reports show."""
        self._complete(con, run_id, doc)

    def _insert(self, con: sqlite3.Connection, doc: FindingsDocument, snapshot_json: str | None) -> int:
        cursor = con.execute(
            "INSERT INTO runs (tenant_id, tenant_domain, tenant_name, baseline_file, baseline_sha256, "
            "collected_at, recorded_at, tool_version, summary, drift_counts, snapshot, completed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, 0)",
            (doc.run.tenant_id, doc.run.tenant_domain, doc.run.tenant_name, doc.run.baseline_file,
             doc.run.baseline_sha256, doc.run.collected_at, _now(), doc.run.tool_version,
             _json(doc.summary), redact(snapshot_json) if snapshot_json is not None else None))
        run_id = int(cursor.lastrowid or 0)
        con.executemany(
            "INSERT INTO findings (run_id, position, check_id, integration, resource, status, severity, finding) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (finding_row(run_id, i, f) for i, f in enumerate(doc.findings)))
        return run_id

    @staticmethod
    def _complete(con: sqlite3.Connection, run_id: int, doc: FindingsDocument) -> None:
        drift = doc.drift.to_dict()["counts"] if doc.drift is not None else None
        con.execute("UPDATE runs SET drift_counts = ?, recorded_at = ?, "
                    "completed = (SELECT coalesce(max(completed), 0) + 1 FROM runs) WHERE id = ?",
                    (_json(drift) if drift is not None else None, _now(), run_id))

    # -- reading -------------------------------------------------------------------------------------------------

    def runs(self, tenant: str | None = None, limit: int = 20, *, tenant_id: str | None = None,
             baseline_file: str | None = None, finished: bool = False) -> list[StoredRun]:
        """Most recent first. `tenant` matches the tenant id, domain or name, case-insensitively; `tenant_id` and
        `baseline_file` match exactly (one tenant's runs against one baseline, as drift groups them).
        `finished`: complete runs only, the last to finish first."""
        with self._reading() as con:  # opening tells which schema the file has
            where: list[str] = [f"{self._completed} > 0"] if finished else []
            args: list[Any] = []
            if tenant:
                where.append("(lower(tenant_id) = ? OR lower(tenant_domain) = ? OR lower(tenant_name) = ?)")
                args += [tenant.lower()] * 3
            for column, value in (("tenant_id", tenant_id), ("baseline_file", baseline_file)):
                if value is not None:
                    where.append(f"{column} = ?")
                    args.append(value)
            condition = f"WHERE {' AND '.join(where)}" if where else ""
            order = self._completed if finished else "id"
            sql = f"SELECT {self._columns} FROM runs {condition} ORDER BY {order} DESC LIMIT ?"
            rows = con.execute(sql, (*args, min(limit, SQLITE_MAX_INT))).fetchall()
        return [self._run(row) for row in rows]

    def previous(self, tenant_id: str, baseline_file: str) -> StoredRun | None:
        """The run of this tenant with a baseline of this file name that finished last (unfinished runs never
        count: their verdict may never have reached anyone)."""
        runs = self.runs(limit=1, tenant_id=tenant_id, baseline_file=baseline_file, finished=True)
        return runs[0] if runs else None

    def run(self, run_id: int) -> StoredRun:
        row = None
        if 0 <= run_id <= SQLITE_MAX_INT:  # a larger id cannot be stored (and sqlite3 would raise OverflowError)
            with self._reading() as con:
                row = con.execute(f"SELECT {self._columns} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise InputError(f"{self.path}: no run {run_id} in the history (see `auditor history`)")
        return self._run(row)

    def findings(self, run_id: int) -> tuple[Finding, ...]:
        with self._reading() as con:
            rows = con.execute("SELECT finding FROM findings WHERE run_id = ? ORDER BY position", (run_id,)).fetchall()
        return self._decoded(f"run {run_id}'s findings", lambda: tuple(_finding(r[0]) for r in rows))

    def snapshot(self, run_id: int) -> str | None:
        with self._reading() as con:
            row = con.execute("SELECT snapshot FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row[0] if row else None

    def finding_counts(self) -> dict[int, int]:
        """Findings stored per run id (for consistency checks)."""
        with self._reading() as con:
            return dict(con.execute("SELECT run_id, count(*) FROM findings GROUP BY run_id").fetchall())

    # -- connections ---------------------------------------------------------------------------------------------

    def _run(self, row: tuple[Any, ...]) -> StoredRun:
        return self._decoded(f"run {row[0]}", lambda: _run(row))

    def _decoded(self, what: str, decode: Callable[[], Any]) -> Any:
        """A stored row as objects; a row someone damaged (not JSON, not the shape written) is one clear error."""
        try:
            return decode()
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise self._damaged(what, type(exc).__name__) from None

    def _damaged(self, what: str, why: str) -> ConfigError:
        return ConfigError(f"{self.path}: {what}: a damaged row in the history database ({why}); "
                           "restore it from a backup or point --history elsewhere")

    def ensure(self) -> None:
        """Open (creating it if allowed) and check the database now, so a bad path fails before a long run."""
        with self._reading():
            pass

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._reading() as con:
            # IMMEDIATE takes the write lock up front: two writers queue (busy timeout) instead of deadlocking.
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        pinned = getattr(self._pinned, "con", None)
        if pinned is not None:  # inside `finishing`: read what this transaction sees
            yield pinned
            return
        con = self._connect()
        try:
            yield con
        except sqlite3.DatabaseError as exc:
            raise _error(self.path, exc) from None
        finally:
            con.close()

    def _connect(self) -> sqlite3.Connection:
        if not self.create and not self.path.is_file():
            raise InputError(f"{self.path}: no history database here (audit runs create it; see --history)")
        if not self.create:
            return self._connect_read_only()
        try:
            from auditor.reports.files import make_private_dirs

            make_private_dirs(self.path.parent)  # 0700 whatever the umask: whoever can replace the file can
            new = not self.path.exists()         # silence --fail-on-new
            # isolation_level=None: no implicit transactions; each write is an explicit BEGIN IMMEDIATE ... COMMIT.
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            if new:
                # Owner-only, like the reports: findings describe the tenant's weak spots. SQLite gives its -wal
                # and -shm files the database's permissions. chmod, never open(): closing any other descriptor
                # of the file drops SQLite's POSIX locks for the whole process (https://sqlite.org/howtocorrupt.html).
                os.chmod(self.path, 0o600)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"{self.path}: cannot open the history database: {exc}") from None
        try:
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            con.execute("PRAGMA foreign_keys = ON")
            if not self._ready:
                # Switching a new file to WAL needs it to itself, and SQLite answers "locked" at once, without
                # the busy timeout, while another connection does the same: retry for as long as that timeout.
                _patiently(lambda: con.execute("PRAGMA journal_mode = WAL"))
                _patiently(lambda: self._migrate(con))
                self._check(con)
                self._ready = True
        except sqlite3.DatabaseError as exc:
            con.close()
            raise _error(self.path, exc) from None
        return con

    def _connect_read_only(self) -> sqlite3.Connection:
        """Reading commands (`history`, `diff`) open the file read-only, so a history in a read-only directory
        or on read-only media can still be listed. SQLite cannot open a WAL database read-only when it may not
        create the -shm file (https://www.sqlite.org/wal.html#readonly); with no -wal file there is no writer
        and nothing outside the main file, so it is then opened as immutable."""
        uri = f"{self.path.absolute().as_uri()}?mode=ro"
        try:
            try:
                con = self._open_uri(uri)
            except sqlite3.OperationalError:
                if Path(f"{self.path}-wal").exists():
                    raise
                con = self._open_uri(uri + "&immutable=1")
            if not self._ready:
                self._check(con)
                self._ready = True
        except sqlite3.DatabaseError as exc:
            raise _error(self.path, exc) from None
        return con

    def _open_uri(self, uri: str) -> sqlite3.Connection:
        con = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            con.execute("PRAGMA user_version").fetchone()  # opens the file now
        except sqlite3.DatabaseError:
            con.close()
            raise
        return con

    def _check(self, con: sqlite3.Connection) -> None:
        """Before any work: the schema this auditor writes and a file SQLite finds sound (`PRAGMA quick_check`),
        so a damaged history fails now, not after a whole collection."""
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ConfigError(f"{self.path}: history schema {version} was written by a newer auditor")
        if version == 1 and not self.create:
            self._completed = "id"  # read as it is; the next run that records into it upgrades it
        elif version != SCHEMA_VERSION:
            raise ConfigError(f"{self.path}: not a history database (no run history schema in it)")
        problem = str(con.execute("PRAGMA quick_check(1)").fetchone()[0])
        if problem != "ok":
            first = problem.replace("*** in database main ***", "").strip().splitlines()[0][:160]
            raise ConfigError(f"{self.path}: the history database is damaged (quick_check: {first}); "
                              "restore it from a backup or point --history elsewhere")
        con.execute(f"SELECT {self._columns}, snapshot FROM runs LIMIT 0")
        con.execute(f"SELECT {_FINDING_COLUMNS} FROM findings LIMIT 0")
        # The rows a run reads later (every run's counts, and the findings of each tenant's latest run, which
        # drift compares with): decoded now, so a damaged row too fails before the work.
        for row in con.execute(f"SELECT {self._columns} FROM runs"):
            self._run(row)
        latest = con.execute("SELECT run_id, finding FROM findings WHERE run_id IN (SELECT id FROM runs r WHERE "
                             f"{self._completed} = (SELECT max({self._completed}) FROM runs WHERE "
                             "tenant_id = r.tenant_id AND baseline_file = r.baseline_file))").fetchall()
        for run_id, text in latest:
            self._decoded(f"run {run_id}'s findings", functools.partial(_finding, text))

    def _migrate(self, con: sqlite3.Connection) -> None:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise ConfigError(f"{self.path}: history schema {version} was written by a newer auditor")
        con.execute("BEGIN IMMEDIATE")  # not executescript(): it would COMMIT on its own
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]  # again, under the lock
            if version == 1:  # every run of a version-1 file was stored after its reports: finished, in id order
                con.execute("ALTER TABLE runs ADD COLUMN completed INTEGER NOT NULL DEFAULT 0")
                con.execute("UPDATE runs SET completed = id")
            for statement in (s.strip() for s in _SCHEMA.split(";")):
                if statement and version in (0, 1):
                    con.execute(statement)
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


_RUN_COLUMNS = ("id, tenant_id, tenant_domain, tenant_name, baseline_file, baseline_sha256, collected_at, recorded_at, "
                "tool_version, summary, drift_counts")


_FINDING_COLUMNS = "run_id, position, check_id, integration, resource, status, severity, finding"


def finding_row(run_id: int, position: int, f: Finding) -> tuple[Any, ...]:
    return (run_id, position, f.check_id, f.integration, f.resource, f.status.value, f.severity.value,
            redact(_json(f.to_dict())))


def _run(row: tuple[Any, ...]) -> StoredRun:
    """Raises ValueError, TypeError, KeyError or AttributeError on a row that is not what record() writes."""
    summary = json.loads(row[9])
    drift = json.loads(row[10]) if row[10] else None
    if not isinstance(summary, dict) or not (drift is None or isinstance(drift, dict)):
        raise TypeError("summary or drift_counts is not a JSON object")
    run = StoredRun(id=int(row[0]), tenant_id=str(row[1]), tenant_domain=str(row[2]), tenant_name=str(row[3]),
                    baseline_file=str(row[4]), baseline_sha256=str(row[5]), collected_at=str(row[6]),
                    recorded_at=str(row[7]), tool_version=str(row[8]), summary=summary, drift_counts=drift,
                    completed=int(row[11]) > 0)
    for status in Status:  # the counts `auditor history` shows
        run.count(status)
    for severity in Severity:
        run.failures(severity)
    for value in (drift or {}).values():
        int(value)
    return run


def _finding(text: str) -> Finding:
    return Finding.from_dict(json.loads(text))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _patiently(action: Callable[[], object]) -> None:
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _error(path: Path, exc: sqlite3.DatabaseError) -> ConfigError:
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return ConfigError(f"{path}: the history database stayed locked for {BUSY_TIMEOUT_S:.0f} s by another run")
    return ConfigError(f"{path}: not a usable history database ({exc})")
