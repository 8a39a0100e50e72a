"""The transport-neutral seam between the Exchange collector and whatever runs cmdlets (PSRP today, REST later).

A shell takes only (allowlisted cmdlet name, parameters): there is no way to send script text. Several
commands given to one `run` are several statements of ONE pipeline; their output arrives as one list, so
callers batch only commands whose rows name their input.
"""

from __future__ import annotations

import base64
import copy
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from auditor.collect.allowlist import ensure_allowed, ensure_parameter_name
from auditor.errors import CollectionError
from auditor.redact import quiet_client_loggers

T = TypeVar("T")
R = TypeVar("R")
TRUNCATED = "more results available"  # Exchange's warning when -ResultSize cut a listing short
TRANSIENT_WORDS = ("busy", "throttl", "try again", "temporarily", "unavailable", "transientexception")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True, init=False)
class Command:
    """One cmdlet call. Parameter values are data, never script: a value None is a switch (`-Name`), and
    True/False travel as values (`-ShowBanner:$false`).

    Immutable: the name and the (name, value) pairs are fixed when built, both checked against the allowlist
    then, and the parameter names again each time a sender reads `parameters` (right before sending), so a
    command changed after it was checked is still refused."""

    name: str
    params: tuple[tuple[str, Any], ...]

    def __init__(self, name: str, parameters: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "name", ensure_allowed(name))
        object.__setattr__(self, "params", tuple((ensure_parameter_name(k), v)
                                                 for k, v in dict(parameters or {}).items()))

    @property
    def parameters(self) -> Mapping[str, Any]:
        """A read-only view, its names checked again now."""
        return MappingProxyType({ensure_parameter_name(k): v for k, v in self.params})

    def describe(self) -> str:
        """`Get-Mailbox -Identity`: the cmdlet and its parameter names (never values: they may be secrets)."""
        return " ".join([self.name, *(f"-{k}" for k in self.parameters)])


@dataclass(frozen=True)
class CmdletErrorInfo:
    """One error record: the exception message (one line), FullyQualifiedErrorId, TargetObject as text, and
    the statement it came from when known (PSRP error records do not say; single statements are 0)."""

    message: str
    fq_error: str
    target: str | None
    statement_index: int | None

    @property
    def not_found(self) -> bool:
        return "ManagementObjectNotFound" in self.fq_error or "couldn't be found" in self.message

    @property
    def command_not_found(self) -> bool:
        return "CommandNotFound" in self.fq_error

    @property
    def role_denied(self) -> bool:
        """The caller may not run the cmdlet: PSRP leaves it out of the session (CommandNotFound), REST answers
        "User is not allowed to call <cmdlet>" (docs/microsoft-facts.md, "Exchange Online session")."""
        return self.command_not_found or "is not allowed to call" in self.message.lower()

    @property
    def transient(self) -> bool:  # worth a retry: the server is busy, throttling, or briefly unavailable
        # PowerShell's refusal of an enum value ends "...enumerator names and try again": a binding error, never
        # worth a retry
        text = f"{self.message} {self.fq_error}".lower()
        binding = text.startswith("cannot bind parameter")
        return not self.command_not_found and not binding and any(word in text for word in TRANSIENT_WORDS)


@dataclass
class Output:
    """What one pipeline produced: plain-dict rows, non-terminating errors, warnings."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[CmdletErrorInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def incomplete(self) -> str | None:
        """Why these rows are not the whole answer: the first error, or the warning Exchange gives when
        `-ResultSize` cut a listing short ("more results available"); None when they are."""
        if self.errors:
            return self.errors[0].message
        return next((w for w in self.warnings if TRUNCATED in w.lower()), None)


class PipelineFailed(CollectionError):
    """A pipeline ended with a terminating error (after any retries); `output` holds what came before it."""

    def __init__(self, what: str, error: CmdletErrorInfo, output: Output | None = None) -> None:
        super().__init__(f"{what} failed: {error.message}")
        self.error = error
        self.output = output or Output()


class CmdletUnavailable(PipelineFailed):
    """A cmdlet outside the auditor's Exchange roles: its message is the one line a section shows for it."""

    def __init__(self, cmdlet: str, error: CmdletErrorInfo, output: Output | None = None) -> None:
        super().__init__(cmdlet, error, output)
        self.cmdlet = cmdlet
        self.args = (role_hint(cmdlet),)

    def __str__(self) -> str:
        return str(self.args[0])


def role_hint(cmdlet: str) -> str:
    """Which cmdlet the auditor's app cannot run and how to find a role that holds it (which read-only role does
    is undocumented: docs/microsoft-facts.md)."""
    return (f"{cmdlet} is not available to the auditor's app (none of its Exchange roles holds "
            f"it); find the roles that hold it with `Get-ManagementRole -Cmdlet {cmdlet}` and assign a read-only "
            "one to the app's service principal")


def open_all(shells: Sequence[Any], preferred: type[BaseException] | None = None) -> None:
    """Open every shell (each has `open` and `close`) in parallel, or none: on a failure the opened ones are
    closed and the first error is raised (the first of kind `preferred`, when there is one)."""
    with ThreadPoolExecutor(max_workers=len(shells), thread_name_prefix="exo-open") as executor:
        futures = [executor.submit(shell.open) for shell in shells]
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        for shell in shells:
            shell.close()
        raise next((e for e in errors if preferred and isinstance(e, preferred)), errors[0])


@dataclass
class ShellStats:
    """Run facts of one shell (summed over a pool for the snapshot's `collection` dict)."""

    pipelines: int = 0
    statements: int = 0
    round_trips: int = 0
    retries: int = 0
    pools_reopened: int = 0
    reconnects: int = 0  # fresh tokens presented because the previous one expired (or was about to)


class ExchangeShell(Protocol):
    """Runs allowlisted cmdlets. `run` raises PipelineFailed for a terminating error and CollectionError
    (one line naming the cause) when the transport fails; non-terminating errors land in Output.errors."""

    @property
    def stats(self) -> ShellStats: ...

    def run(self, commands: Sequence[Command]) -> Output: ...

    def close(self) -> None: ...


@dataclass
class ItemResult:
    """One item of a batched read: its rows, or its error (`not_found`; `failed`: its pipeline broke)."""

    rows: list[dict[str, Any]]
    error: str | None = None
    not_found: bool = False
    failed: bool = False


class ShellPool:
    """N shells used from N threads. `run` borrows a free shell for one pipeline; `map` runs a function over
    items concurrently (it calls `run`; no shell is held while waiting, so nesting is safe); `read_items`
    batches independent look-ups. Counts pipelines per cmdlet and keeps every warning for the run facts."""

    statements_share_a_request = True
    """Several statements of one `run` travel in one request (PSRP); over REST each is a request of its own."""

    def __init__(self, shells: Sequence[ExchangeShell]) -> None:
        if not shells:
            raise ValueError("a shell pool needs at least one shell")
        self.shells = list(shells)
        self.pipelines_by_cmdlet: dict[str, int] = {}
        self.warnings: list[str] = []
        self._idle = _IdleShells(self.shells)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.in_background = False

    def background(self) -> ShellPool:
        """The same shells, for reads nothing waits on soon: each of their pipelines takes a free shell only
        when no other read is waiting for one, so they fill the gaps of the reads on the run's longest path."""
        view = copy.copy(self)  # shares the shells, counters, warnings and locks
        view.in_background = True
        return view

    @property
    def size(self) -> int:
        return len(self.shells)

    def run(self, commands: Sequence[Command]) -> Output:
        if self._closed.is_set():
            raise CollectionError("the Exchange shell pool is closed")
        with self._lock:
            self.pipelines_by_cmdlet[commands[0].name] = self.pipelines_by_cmdlet.get(commands[0].name, 0) + 1
        shell = self._idle.take(self.in_background)
        try:
            output = shell.run(commands)
        except PipelineFailed as exc:
            if exc.error.role_denied and not isinstance(exc, CmdletUnavailable):
                named = {c.name.lower(): c.name for c in commands}
                cmdlet = named.get(str(exc.error.target or "").lower(), commands[0].name)
                raise CmdletUnavailable(cmdlet, exc.error, exc.output) from None
            raise
        finally:
            self._idle.give(shell)
        with self._lock:
            self.warnings += [f"{commands[0].describe()}: {w}" for w in output.warnings]
        return output

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """fn over items on up to `size` threads, results in item order; an exception propagates."""
        work = list(items)
        if len(work) <= 1 or self.size == 1:
            return [fn(item) for item in work]
        with ThreadPoolExecutor(max_workers=min(self.size, len(work)), thread_name_prefix="exo") as executor:
            return list(executor.map(fn, work))

    def read_items(self, keys: Sequence[str], command: Callable[[str], Command],
                   owns: Callable[[str, dict[str, Any]], bool], target: Callable[[str], str],
                   batch: int, failures: list[str] | None = None) -> dict[str, ItemResult]:
        """One result per key, `batch` statements per pipeline, batches spread over the shells. Rows go to the
        keys that `owns` them, errors to the key whose `target` (the identity sent) they name; a key left without
        either, or in a failed batch, reruns alone. After 3 like failures in a row, the rest get that error
        (`failures`: the run of failures to continue, when one read is made in several calls)."""
        failures = [] if failures is None else failures  # consecutive failures of this read, shared by its threads
        chunks = [list(keys[i:i + batch]) for i in range(0, len(keys), max(1, batch))]
        results: dict[str, ItemResult] = {}
        for part in self.map(lambda chunk: self._read_chunk(chunk, command, owns, target, failures), chunks):
            results.update(part)
        return results

    def _read_chunk(self, chunk: list[str], command: Callable[[str], Command],
                    owns: Callable[[str, dict[str, Any]], bool], target: Callable[[str], str],
                    failures: list[str]) -> dict[str, ItemResult]:
        found: dict[str, ItemResult] = {}
        if len(chunk) > 1 and self._tripped(failures) is None:
            try:
                out = self.run([command(key) for key in chunk])
            except CollectionError as exc:
                self._note(failures, one_line(str(exc)))
            else:
                self._note(failures, None)
                found = {key: ItemResult([row for row in out.rows if owns(key, row)]) for key in chunk}
                for error in out.errors:
                    for key in chunk:
                        if not found[key].rows and (error.target or "\0").lower() == target(key).lower():
                            found[key] = ItemResult([], error.message, error.not_found)
                found = {k: v for k, v in found.items() if v.rows or v.error is not None}
        return {key: found.get(key) or self._read_one(key, command, failures) for key in chunk}

    def _read_one(self, key: str, command: Callable[[str], Command], failures: list[str]) -> ItemResult:
        if (tripped := self._tripped(failures)) is not None:
            return ItemResult([], tripped, failed=True)
        try:
            out = self.run([command(key)])
        except CollectionError as exc:
            self._note(failures, one_line(str(exc)))
            return ItemResult([], one_line(str(exc)), failed=True)
        self._note(failures, None)
        if out.errors:
            return ItemResult(out.rows, out.errors[0].message, all(e.not_found for e in out.errors))
        return ItemResult(out.rows)

    def _note(self, failures: list[str], failure: str | None) -> None:
        with self._lock:
            if failure is None or (failures and _shape(failures[-1]) != _shape(failure)):
                failures.clear()
            if failure is not None:
                failures.append(failure)

    def _tripped(self, failures: list[str]) -> str | None:
        with self._lock:
            return failures[-1] if len(failures) >= 3 else None

    def stats(self) -> ShellStats:
        return ShellStats(**{f.name: sum(getattr(s.stats, f.name) for s in self.shells) for f in fields(ShellStats)})

    def facts(self) -> dict[str, Any]:
        with self._lock:
            return {"pools": self.size, **asdict(self.stats()), "pipelines_by_cmdlet": dict(self.pipelines_by_cmdlet),
                    "warnings": sorted(set(self.warnings))}

    def close(self) -> None:
        self._closed.set()
        for shell in self.shells:
            shell.close()


class _IdleShells:
    """The free shells. A foreground taker is served before any background one; among each kind, first come
    first served is not promised (threads wake as the OS schedules them)."""

    def __init__(self, shells: Sequence[ExchangeShell]) -> None:
        self._shells = list(shells)
        self._ready = threading.Condition(threading.Lock())
        self._foreground_waiting = 0

    def take(self, background: bool) -> ExchangeShell:
        with self._ready:
            if not background:
                self._foreground_waiting += 1
            try:
                while not self._shells or (background and self._foreground_waiting):
                    self._ready.wait()
                return self._shells.pop()
            finally:
                if not background:
                    self._foreground_waiting -= 1
                    if not self._foreground_waiting and self._shells:
                        self._ready.notify_all()  # a background taker may have waited behind this one

    def give(self, shell: ExchangeShell) -> None:
        with self._ready:
            self._shells.append(shell)
            self._ready.notify_all()


def _shape(message: str) -> str:
    """A failure message without its request ids, timestamps and counts, to tell "the same failure again"."""
    return re.sub(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}|\d+", "#", message)


def quiet_transport_logs() -> None:
    """Force the transport loggers to WARNING whatever `-v` says: at DEBUG pypsrp prints SOAP bodies carrying the
    `-AccessToken` (and psrpcore, under `auditor demo`'s in-process emulator, the decoded messages)."""
    quiet_client_loggers()


# -- normalising at the boundary -------------------------------------------------------------------------


def plain_value(value: Any) -> Any:
    """JSON-ready values: GUIDs (uuid.UUID or text) lower-cased, dates ISO (naive ones UTC), deserialised objects
    as dicts of their adapted and extended properties or, with none (enums, addresses), their ToString."""
    if type(value) is str:  # most values: checked first, with the same answer as below
        return value.lower() if len(value) == 36 and GUID.fullmatch(value) else value
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value.lower() if len(value) == 36 and GUID.fullmatch(value) else value
    if isinstance(value, uuid.UUID):
        return str(value).lower()
    if isinstance(value, date):
        return (value.replace(tzinfo=UTC) if isinstance(value, datetime) and not value.tzinfo else value).isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_value(v) for v in value]
    props = object_properties(value)
    if props:
        return {k: plain_value(v) for k, v in props.items()}
    if hasattr(value, "queue"):  # pypsrp's Queue/Stack
        return [plain_value(v) for v in list(value.queue)]
    return str(value)


def object_properties(obj: Any) -> dict[str, Any]:
    """Adapted (real Exchange) and extended (note) properties of a deserialised object; both are read."""
    props: dict[str, Any] = {}
    for attribute in ("adapted_properties", "extended_properties"):
        found = getattr(obj, attribute, None)
        if isinstance(found, Mapping):
            props.update(found)
    return props


TYPE_OBSERVERS: list[Callable[[str], None]] = []
"""`auditor preflight` only: told the first type name of each output object (`observing_types`)."""


@contextmanager
def observing_types() -> Iterator[list[str]]:
    """Within: the first type name of every output object a shell turns into a row (PSRP and the local fast
    path carry them; REST's JSON does not), in order."""
    seen: list[str] = []
    TYPE_OBSERVERS.append(seen.append)
    try:
        yield seen
    finally:
        TYPE_OBSERVERS.remove(seen.append)


def plain_row(obj: Any) -> dict[str, Any]:
    """One output object as a plain dict (a bare value, which Exchange cmdlets do not emit, as {"Value": v})."""
    if TYPE_OBSERVERS and (types := getattr(obj, "types", None)):
        for observe in TYPE_OBSERVERS:
            observe(str(types[0]))
    value = plain_value(obj)
    return value if isinstance(value, dict) else {"Value": value}


def one_line(text: str, limit: int = 500) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
