"""PowerShell's out-of-process transport: PSRP fragments over a child's stdin/stdout (docs/microsoft-facts.md,
"PowerShell out-of-process transport").

One packet per line, one XML element each: `<Data Stream='Default' PSGuid='…'>base64</Data>` carries whole PSRP
fragments for the pool (the all-zero GUID) or one pipeline; `Command`, `Signal` and `Close` open, stop and end a
pipeline (or, for `Close`, the pool); the child answers each with `DataAck`, `CommandAck`, `SignalAck` and
`CloseAck`. The child handles lines concurrently, so the acks are the only ordering: a pipeline's `Data` waits for
its `CommandAck`, and each target has at most one `Data` not yet acknowledged. The child's own `Data` has no ack.

Anything on stdout that is not one of these packets, any line on stderr, or the child ending, fails the channel
with one line naming what happened; every wait has a timeout, after which the child is killed.
"""

from __future__ import annotations

import base64
import binascii
import os
import subprocess
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

from auditor.collect import children
from auditor.collect.bounds import UNBOUNDED, RunClock
from auditor.errors import CollectionError

POOL = uuid.UUID(int=0)  # the runspace pool's PSGuid; pipelines use their own id
FRAGMENT_SIZE = 32_768  # PowerShell's fragment size for this transport, header included
ACKS = frozenset({"DataAck", "CommandAck", "SignalAck", "CloseAck"})
_NO_GUID_ELEMENTS = frozenset({"Command", "Signal", "Close", *ACKS})
_SHOWN = 120  # characters of an unexpected line quoted in the error


class ChannelError(CollectionError):
    """The child broke the protocol, wrote to stderr, ended, or did not answer in time."""


@dataclass(frozen=True)
class Packet:
    kind: str  # Data, DataAck, Command, CommandAck, Signal, SignalAck, Close, CloseAck
    target: uuid.UUID
    data: bytes = b""
    stream: str = "Default"


def format_packet(packet: Packet) -> bytes:
    """The line PowerShell itself writes: single-quoted attributes, lower-case GUIDs, `\\n` at the end."""
    if packet.kind == "Data":
        if not packet.data:
            raise ValueError("an empty Data packet ends the session")  # pwsh treats it as fatal
        text = base64.b64encode(packet.data).decode("ascii")
        return f"<Data Stream='{packet.stream}' PSGuid='{packet.target}'>{text}</Data>\n".encode("ascii")
    if packet.kind not in _NO_GUID_ELEMENTS:
        raise ValueError(f"unknown packet {packet.kind!r}")
    return f"<{packet.kind} PSGuid='{packet.target}' />\n".encode("ascii")


def parse_packet(line: bytes) -> Packet:
    """One line of the stream (its line end already stripped); ValueError for anything else."""
    try:
        element = ElementTree.fromstring(line.lstrip(b"\xef\xbb\xbf"))
    except ElementTree.ParseError:
        raise ValueError("not an XML element") from None
    attributes = dict(element.attrib)
    try:
        target = uuid.UUID(attributes.pop("PSGuid"))
    except (KeyError, ValueError):
        raise ValueError(f"<{element.tag}> without a valid PSGuid") from None
    if element.tag == "Data":
        stream = attributes.pop("Stream", None)
        if stream is None or attributes or not element.text or len(element):
            raise ValueError("a <Data> packet needs Stream, PSGuid and base64 text")
        try:
            data = base64.b64decode(element.text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a <Data> packet whose text is not base64") from None
        return Packet("Data", target, data, stream)
    if element.tag not in _NO_GUID_ELEMENTS or attributes or element.text or len(element):
        raise ValueError(f"unexpected element <{element.tag}>")
    return Packet(element.tag, target)


def _quote(line: bytes) -> str:
    text = " ".join(line.decode("utf-8", "replace").split())
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


class Channel:
    """One child process speaking the transport; the caller drives the PSRP layer from one thread at a time."""

    def __init__(self, argv: Sequence[str], timeout_s: float, name: str = "pwsh",
                 env: Mapping[str, str] | None = None, counter: Any = None, clock: RunClock = UNBOUNDED) -> None:
        if children.stopping():
            raise ChannelError(f"{name} was not started: the run is being interrupted")
        self.name = name
        self.timeout_s = timeout_s
        self.clock = clock  # no wait goes past the run's deadline
        self.counter = counter  # its `round_trips` counts packets the child answers (Data, Command, Signal, Close)
        self._cond = threading.Condition()
        self._acks: Counter[tuple[str, uuid.UUID]] = Counter()
        self._data: deque[Packet] = deque()
        self._failure: str | None = None
        self._write_lock = threading.Lock()
        try:
            self.proc = subprocess.Popen(
                list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=dict(env) if env is not None else None, start_new_session=os.name == "posix",
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
        except OSError as exc:
            raise ChannelError(f"cannot start {name} ({argv[0]}): {exc.strerror or exc}") from None
        if not children.register(self.proc):
            raise ChannelError(f"{name} was not started: the run is being interrupted")
        self.pid = self.proc.pid
        for target, label in ((self._read_stdout, "stdout"), (self._read_stderr, "stderr")):
            threading.Thread(target=target, name=f"{name}-{self.pid}-{label}", daemon=True).start()

    # -- reading ---------------------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.rstrip(b"\r\n")
            try:
                packet = parse_packet(line)
            except ValueError as exc:
                self._fail(f"{self.name} wrote something that is not PowerShell remoting ({exc}): {_quote(line)}")
                return
            with self._cond:
                if packet.kind == "Data":
                    self._data.append(packet)
                else:
                    self._acks[(packet.kind, packet.target)] += 1
                self._cond.notify_all()
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        self._fail(f"{self.name} ended unexpectedly" + ("" if code is None else f" (exit code {code})"))

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in iter(self.proc.stderr.readline, b""):
            if raw.strip():  # PowerShell's own client treats any stderr text as the end of the session
                self._fail(f"{self.name} reported an error: {_quote(raw.rstrip())[1:-1]}")

    def _fail(self, reason: str) -> None:
        with self._cond:
            if self._failure is None:
                self._failure = reason
            self._cond.notify_all()

    @property
    def failure(self) -> str | None:
        return self._failure

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        deadline = min(time.monotonic() + self.timeout_s, self.clock.ends)
        with self._cond:
            while not ready():
                if self._failure is not None:
                    raise ChannelError(f"{self._failure}, while {what}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._failure = self.clock.stop_reason() or (
                        f"{self.name} did not answer within {self.timeout_s:g} s, while {what}; killed")
                    break
                self._cond.wait(remaining)
            else:
                return
        self.kill()
        raise ChannelError(self._failure or "timed out")

    def _take_ack(self, kind: str, target: uuid.UUID, what: str) -> None:
        key = (kind, target)
        self._wait(lambda: self._acks[key] > 0, what)
        with self._cond:
            self._acks[key] -= 1

    def next_data(self, what: str) -> Packet:
        """The next `Data` packet from the child, in arrival order."""
        self._wait(lambda: bool(self._data), what)
        with self._cond:
            return self._data.popleft()

    # -- writing ---------------------------------------------------------------------------------------

    def _send(self, packet: Packet) -> None:
        if self._failure is not None:
            raise ChannelError(self._failure)
        assert self.proc.stdin is not None
        line = format_packet(packet)
        try:
            with self._write_lock:
                self.proc.stdin.write(line)
                self.proc.stdin.flush()  # one packet per flush, as pwsh writes them
        except (BrokenPipeError, OSError, ValueError):
            self._fail(f"{self.name} stopped reading its input")
            raise ChannelError(self._failure or "closed") from None
        if self.counter is not None:
            self.counter.round_trips += 1

    def send_data(self, target: uuid.UUID, data: bytes, stream: str = "Default") -> None:
        self._send(Packet("Data", target, data, stream))
        self._take_ack("DataAck", target, "sending to " + ("the pool" if target == POOL else "a pipeline"))

    def command(self, pipeline: uuid.UUID) -> None:
        self._send(Packet("Command", pipeline))
        self._take_ack("CommandAck", pipeline, "creating a pipeline")

    def signal(self, pipeline: uuid.UUID) -> None:
        self._send(Packet("Signal", pipeline))
        self._take_ack("SignalAck", pipeline, "stopping a pipeline")

    def close(self, target: uuid.UUID) -> None:
        self._send(Packet("Close", target))
        self._take_ack("CloseAck", target, "closing " + ("the pool" if target == POOL else "a pipeline"))

    # -- ending ----------------------------------------------------------------------------------------

    def kill(self) -> None:
        children.kill(self.proc)

    def end(self, grace_s: float = 2.0) -> int | None:
        """Close stdin (pwsh then exits on its own), wait up to `grace_s`, kill if needed; always reaped."""
        if self.proc.stdin is not None:
            try:
                with self._write_lock:
                    self.proc.stdin.close()
            except OSError:
                pass
        try:
            code: int | None = self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            code = None
        children.kill(self.proc)
        return code
