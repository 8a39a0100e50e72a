"""psrpcore glue: one emulated runspace pool (a WSMan shell), its pipelines and its outgoing fragment queues.

psrpcore's `ServerRunspacePool.data_to_send()` drains one buffer shared by the whole pool, while the client
receives for the pool and for each pipeline with separate Receive requests; so every feed is followed by a
drain into per-target queues, and a Receive pops only its target's queue. Callers hold `lock` around
every method call (one pool serves one client thread at a time; different pools run in parallel).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from typing import Any

from psrpcore import (
    CreatePipelineEvent,
    EndOfPipelineInputEvent,
    GetAvailableRunspacesEvent,
    PipelineInputEvent,
    PSRPPayload,
    ResetRunspaceStateEvent,
    ServerPipeline,
    ServerRunspacePool,
    SetMaxRunspacesEvent,
    SetMinRunspacesEvent,
    StreamType,
)
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSInvocationState,
    PSNoteProperty,
    PSObject,
)

from auditor.emulator.exchange import wsman
from auditor.emulator.exchange.fast_output import queue_output
from auditor.emulator.exchange.model import (
    INVALID_OPERATION,
    CmdletError,
    CmdletResult,
    ErrorInfo,
    Record,
    clixml_escape,
    scripts_not_allowed,
)

# Runs one command: (session, command name, [(parameter name | None, value)], piped input or None).
CommandRunner = Callable[["PoolSession", str, Sequence[tuple[str | None, Any]], list[Any] | None], CmdletResult]
_TERMINAL = (PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped)


def fail_pipeline(pipeline: ServerPipeline, error: ErrorRecord) -> None:
    """End a running pipeline as Failed with a terminating error record.

    psrpcore 0.3.1 offers only complete() and stop(); its private `_change_state` is the one way to emit a
    PipelineState(Failed) message carrying ExceptionAsErrorRecord. This is the only call of it in the
    project, which is why psrpcore is pinned to 0.3.1.
    """
    pipeline._change_state(PSInvocationState.Failed, error=error)


def to_psobject(record: Record) -> PSObject:
    """A deserialised-Exchange-looking object: Exchange type names, adapted properties (`<Props>`)."""
    obj = PSObject()
    obj.PSObject.type_names = list(record.type_names)
    adapted = obj.PSObject.adapted_properties
    for name, value in record.properties.items():
        prop = PSNoteProperty(name)  # set_value() with our object: PSNoteProperty(name, value) builds a spare one
        prop.set_value(value, obj)
        adapted.append(prop)
    # psrpcore writes <ToString> without CLIXML's escaping; control characters from tenant text would make
    # the message unparseable, so escape them the way CLIXML does (_x001B_).
    escaped = clixml_escape(record.to_string)
    if escaped is not None:
        obj.PSObject.to_string = escaped
    return obj




def _exception(info: ErrorInfo) -> NETException:
    exc = NETException(Message=info.message, HResult=-2146233087)
    names = list(exc.PSObject.type_names)
    if info.exception_type not in names:
        names.insert(0, info.exception_type)
    exc.PSObject.type_names = names
    return exc


def _category(info: ErrorInfo) -> ErrorCategoryInfo:
    target = info.target
    return ErrorCategoryInfo(
        Category=ErrorCategory[info.category],
        Activity=info.activity,
        Reason=info.exception_type.rsplit(".", 1)[-1],
        TargetName="" if target is None else str(target),
        TargetType="" if target is None else ("String" if isinstance(target, str) else type(target).__name__),
    )


def to_error_record(info: ErrorInfo) -> ErrorRecord:
    return ErrorRecord(
        Exception=_exception(info),
        CategoryInfo=_category(info),
        TargetObject=info.target,
        FullyQualifiedErrorId=info.fqid,
    )


def internal_error(exc: Exception) -> ErrorInfo:
    """A bug in the emulator fails the pipeline instead of breaking the HTTP layer."""
    return ErrorInfo(
        INVALID_OPERATION,
        f"Emulator internal error: {type(exc).__name__}: {exc}",
        "EmulatorInternalError",
        "NotSpecified",
        "",
    )


class PoolSession:
    """One runspace pool behind one WSMan shell."""

    def __init__(self, shell_id: str, resource_uri: str, owner: str, max_envelope_size: int, runner: CommandRunner):
        self.shell_id = shell_id
        self.resource_uri = resource_uri
        self.owner = owner
        self.lock = threading.Condition()
        self.pool = ServerRunspacePool()
        self.fragment_size = min(32768, wsman.receive_budget(max_envelope_size))
        self.connected = False  # Connect-ExchangeOnline succeeded in this pool (jump-host mode)
        self.pipelines_started = 0
        self._runner = runner
        self._queues: defaultdict[uuid.UUID | None, deque[bytes]] = defaultdict(deque)
        self._inputs: dict[uuid.UUID, list[Any]] = {}
        self._finished: set[uuid.UUID] = set()

    # -- incoming ------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Hand PSRP fragments to psrpcore, act on the events, queue what is to be sent."""
        self.pool.receive_data(PSRPPayload(data, StreamType.default, None))
        while (event := self.pool.next_event()) is not None:
            self._on_event(event)
        self._drain()
        self.lock.notify_all()

    def open_pipeline(self, command_id: str) -> None:
        """psrpcore 0.3.1 does not create server pipelines itself: register one before its CreatePipeline."""
        pid = uuid.UUID(command_id)
        if pid not in self.pool.pipeline_table:
            ServerPipeline(self.pool, pid)
            self.pipelines_started += 1

    def _on_event(self, event: Any) -> None:
        if isinstance(event, CreatePipelineEvent):
            created = self.pool.pipeline_table[event.pipeline_id]
            metadata: Any = created.metadata  # a psrpcore.PowerShell once CreatePipeline is processed
            if metadata.no_input:
                self._run(created, None)
            else:
                self._inputs[event.pipeline_id] = []
        elif isinstance(event, PipelineInputEvent):
            self._inputs.setdefault(event.pipeline_id, []).append(event.data)
        elif isinstance(event, EndOfPipelineInputEvent):
            pipeline = self.pool.pipeline_table.get(event.pipeline_id)
            if pipeline is not None and pipeline.state == PSInvocationState.NotStarted:
                self._run(pipeline, self._inputs.pop(event.pipeline_id, []))
        elif isinstance(event, (SetMaxRunspacesEvent, SetMinRunspacesEvent, ResetRunspaceStateEvent)):
            self.pool.runspace_availability_response(event.ci, True)
        elif isinstance(event, GetAvailableRunspacesEvent):
            self.pool.runspace_availability_response(event.ci, 1)

    # -- running -------------------------------------------------------------------------------------

    def _run(self, pipeline: ServerPipeline, inputs: list[Any] | None) -> None:
        pipeline.start()
        try:
            self._execute(pipeline, inputs)
        except CmdletError as exc:
            fail_pipeline(pipeline, to_error_record(exc.error))
        except Exception as exc:  # any emulator bug becomes a failed pipeline
            fail_pipeline(pipeline, to_error_record(internal_error(exc)))
        else:
            pipeline.complete()
        self._finished.add(pipeline.pipeline_id)

    def _execute(self, pipeline: ServerPipeline, inputs: list[Any] | None) -> None:
        """Statements run in order; within a statement each command's output is piped into the next."""
        statements: list[list[Any]] = [[]]
        metadata: Any = pipeline.metadata
        for command in metadata.commands:
            statements[-1].append(command)
            if command.end_of_statement:
                statements.append([])
        for index, statement in enumerate(s for s in statements if s):
            data: list[Any] | None = inputs if index == 0 else None
            for command in statement:
                if command.is_script:
                    raise CmdletError(scripts_not_allowed())
                result = self._runner(self, str(command.command_text), list(command.parameters), data)
                for error in result.errors:
                    pipeline.write_error(_exception(error), _category(error), error.target, error.fqid)
                for warning in result.warnings:
                    pipeline.write_warning(warning)
                data = list(result.records)
            for record in data or ():
                if not (isinstance(record, Record) and queue_output(pipeline, record)):
                    pipeline.write_output(to_psobject(record) if isinstance(record, Record) else record)

    # -- outgoing ------------------------------------------------------------------------------------

    def _drain(self) -> None:
        while (payload := self.pool.data_to_send(self.fragment_size)) is not None:
            self._queues[payload.pipeline_id].append(payload.data)

    def knows(self, command_id: str) -> bool:
        pid = uuid.UUID(command_id)
        return pid in self.pool.pipeline_table or pid in self._finished

    def take(self, command_id: str | None, budget: int) -> tuple[list[bytes], str | None]:
        """Queued payloads for the pool (None) or a pipeline, up to `budget` bytes (at least one payload),
        and the pipeline's CommandState (Done once it has finished and everything has been taken)."""
        pid = uuid.UUID(command_id) if command_id else None
        queue = self._queues.get(pid) or deque()
        payloads: list[bytes] = []
        size = 0
        while queue and (not payloads or size + len(queue[0]) <= budget):
            payloads.append(queue.popleft())
            size += len(payloads[-1])
        if pid is None:
            return payloads, None
        if pid in self._finished and not queue:
            self._forget(pid)
            return payloads, wsman.DONE
        return payloads, wsman.RUNNING

    def _forget(self, pid: uuid.UUID) -> None:
        pipeline = self.pool.pipeline_table.get(pid)
        if pipeline is not None and pipeline.state in (*_TERMINAL, PSInvocationState.NotStarted):
            pipeline.close()
        self._queues.pop(pid, None)

    def signal(self, command_id: str) -> None:
        """Terminate or Ctrl-C: stop the pipeline if it still runs, then release it."""
        pid = uuid.UUID(command_id)
        pipeline = self.pool.pipeline_table.get(pid)
        if pipeline is not None and pipeline.state == PSInvocationState.Running:
            pipeline.stop()
        self._finished.add(pid)
        self._drain()
        self._forget(pid)

    def close(self) -> None:
        for pid in list(self.pool.pipeline_table):
            self.signal(str(pid))
        with contextlib.suppress(Exception):  # the shell goes away whatever state psrpcore thinks it is in
            self.pool.close()
        self._queues.clear()
        self.lock.notify_all()
