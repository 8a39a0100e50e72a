"""The emulated Exchange endpoint behind `/wsman`: Basic auth, WSMan actions, pools, cmdlet dispatch."""

from __future__ import annotations

import base64
import binascii
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from psrpcore.types import PSObject

from auditor.emulator.exchange import connect, wsman
from auditor.emulator.exchange.cmdlets import ExchangeCmdlets
from auditor.emulator.exchange.model import CmdletError, CmdletResult, Record, command_not_found
from auditor.emulator.exchange.psrp_session import PoolSession
from auditor.emulator.exchange.session_rules import SessionRules, record_call
from auditor.emulator.faults import FaultPlan, RequestCounters
from auditor.emulator.tenant import Tenant
from auditor.emulator.tokens import TokenIssuer

if TYPE_CHECKING:
    from auditor.emulator.server import EmulatorServer

MODES = {"jump-host": "Microsoft.PowerShell", "direct": "Microsoft.Exchange"}
MAX_RECEIVE_WAIT_S = 2.0  # a Receive with nothing to send waits this long (at most) before OperationTimeout
_SESSION_COMMANDS = {c.lower(): c for c in (connect.CONNECT, connect.DISCONNECT)}  # jump-host only
Response = tuple[int, dict[str, str], bytes]
# The ExchangeOnlineManagement module's own cmdlets: a jump host that loaded the module has them, an Exchange
# endpoint reached directly (configuration Microsoft.Exchange) does not.
MODULE_ONLY = frozenset({"Get-EXOMailbox"})


class ExchangeService:
    """Exchange over WSMan/PSRP for one tenant; `handle_wsman` is the HTTP server's `/wsman` handler.

    mode "jump-host": configuration Microsoft.PowerShell, Exchange cmdlets unknown until
    Connect-ExchangeOnline succeeds in the pool; "direct": configuration Microsoft.Exchange, cmdlets
    available at once.
    drop_pool_after: a pool that has run this many pipelines is dropped; its next request gets a
    "shell not found" WSMan fault (2150858843).
    """

    def __init__(
        self,
        tenant: Tenant,
        tokens: TokenIssuer,
        faults: FaultPlan | None = None,
        counters: RequestCounters | None = None,
        mode: str = "jump-host",
        drop_pool_after: int | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.tenant = tenant
        self.tokens = tokens
        self.faults = faults or FaultPlan()
        self.counters = counters
        self.mode = mode
        self.configuration = MODES[mode]
        self.drop_pool_after = drop_pool_after
        self.cmdlets = ExchangeCmdlets(tenant.id, tenant.doc, tenant.now)
        emulator = tenant.doc.get("emulator") or {}
        jump = emulator.get("jumpHost") or {}
        self._username: str | None = jump.get("username")
        self._password: str | None = jump.get("password")
        self._shells: dict[str, PoolSession] = {}
        self._lock = threading.Lock()
        self.session_rules = SessionRules.from_doc(tenant.doc)
        self.connect_calls: list[dict[str, Any]] = []  # every Connect-ExchangeOnline, token value hidden
        self._connections: dict[str, connect.Connection] = {}  # shell id -> its runspace's connection

    def _count(self, route: str) -> None:
        if self.counters is not None:
            self.counters.count(route)

    @property
    def open_pools(self) -> int:
        with self._lock:
            return len(self._shells)

    # -- HTTP entry point ----------------------------------------------------------------------------

    def handle_wsman(self, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        """One POST to /wsman. The HTTP server itself counts `POST /wsman` and answers 503 when the fault
        plan says exchange_down; here each request counts as `wsman:<Action>`, each command as
        `psrp:<Cmdlet>`."""
        if not wsman.check_basic(headers, self._username, self._password):
            return wsman.UNAUTHORIZED
        try:
            request = wsman.parse(body)
        except ValueError:
            return 400, {"Content-Type": "text/plain"}, b"Bad Request"
        self._count(f"wsman:{request.action or 'Unknown'}")
        try:
            return self._dispatch(request, headers, path)
        except wsman.WSManFault as exc:
            return wsman.fault(request, exc)
        except Exception as exc:  # the HTTP layer always gets an answer
            return wsman.fault(
                request,
                wsman.WSManFault(
                    wsman.INTERNAL_ERROR,
                    "w:InternalError",
                    f"Emulator internal error: {type(exc).__name__}: {exc}",
                ),
            )

    def _dispatch(self, request: wsman.Request, headers: Mapping[str, str], path: str) -> Response:
        if request.action == "Create":
            return self._create(request, headers, path)
        if not request.action:
            raise wsman.WSManFault(
                wsman.ACTION_NOT_SUPPORTED,
                "w:ActionNotSupported",
                f"The action {request.action_uri!r} is not supported by the service.",
            )
        with self._lock:
            session = self._shells.get((request.shell_id or "").upper())
        if session is None:
            raise wsman.shell_not_found(request.shell_id or "")
        with session.lock:
            if request.action == "Receive":
                return self._receive(session, request)
            if request.action == "Command":
                return self._command(session, request)
            if request.action == "Send":
                stream = request.find("rsp:Send/rsp:Stream")
                session.feed(_decode(stream.text if stream is not None else ""))
                return wsman.response(request, "<rsp:SendResponse/>")
            if request.action == "Signal":
                signal = request.find("rsp:Signal")
                session.signal((signal.get("CommandId") or "") if signal is not None else "")
                return wsman.response(request, "<rsp:SignalResponse/>")
            if request.action == "Get":
                return wsman.response(
                    request,
                    wsman.shell_body(session.shell_id, session.resource_uri, session.owner, "Connected"),
                )
            self._drop(session)  # Delete
            return wsman.response(request)

    # -- actions -------------------------------------------------------------------------------------

    def _create(self, request: wsman.Request, headers: Mapping[str, str], path: str) -> Response:
        if request.configuration.lower() != self.configuration.lower():
            raise wsman.resource_not_found(request.resource_uri)
        shell = request.find("rsp:Shell")
        creation = request.find("rsp:Shell/pwsh:creationXml")
        shell_id = ((shell.get("ShellId") if shell is not None else None) or str(uuid.uuid4())).upper()
        session = PoolSession(
            shell_id, request.resource_uri, self._username or "", request.max_envelope_size, self._run_command
        )
        with session.lock:
            session.feed(_decode(creation.text if creation is not None else ""))
        with self._lock:
            self._shells[shell_id] = session
        host = {k.lower(): v for k, v in headers.items()}.get("host", "127.0.0.1")
        body = wsman.created_body(shell_id, request.resource_uri, self._username or "", f"https://{host}{path}")
        return wsman.response(request, body)

    def _command(self, session: PoolSession, request: wsman.Request) -> Response:
        if self.drop_pool_after is not None and session.pipelines_started >= self.drop_pool_after:
            self._drop(session)
            raise wsman.shell_not_found(session.shell_id)
        line = request.find("rsp:CommandLine")
        command_id = ((line.get("CommandId") if line is not None else None) or str(uuid.uuid4())).upper()
        session.open_pipeline(command_id)
        for argument in request.body.findall("rsp:CommandLine/rsp:Arguments", wsman.NS):
            session.feed(_decode(argument.text))
        return wsman.response(request, wsman.command_body(command_id))

    def _receive(self, session: PoolSession, request: wsman.Request) -> Response:
        desired = request.find("rsp:Receive/rsp:DesiredStream")
        command_id = desired.get("CommandId") if desired is not None else None
        if command_id and not session.knows(command_id):
            raise wsman.shell_not_found(session.shell_id)
        budget = wsman.receive_budget(request.max_envelope_size)
        deadline = time.monotonic() + min(request.operation_timeout_s, MAX_RECEIVE_WAIT_S)
        payloads, state = session.take(command_id, budget)
        while not payloads and state != wsman.DONE:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or session.shell_id not in self._shells:
                raise wsman.operation_timeout()
            session.lock.wait(remaining)
            payloads, state = session.take(command_id, budget)
        return wsman.response(request, wsman.receive_body(payloads, command_id, state))

    def _drop(self, session: PoolSession) -> None:
        with self._lock:
            self._shells.pop(session.shell_id, None)
            self._connections.pop(session.shell_id, None)
        session.close()

    # -- commands ------------------------------------------------------------------------------------

    def _run_command(
        self,
        session: PoolSession,
        name: str,
        parameters: Sequence[tuple[str | None, Any]],
        piped: list[Any] | None,
    ) -> CmdletResult:
        session_command = _SESSION_COMMANDS.get(name.lower()) if self.mode == "jump-host" else None
        canonical = self.cmdlets.canonical_name(name)
        self._count(f"psrp:{session_command or canonical or name}")
        if session_command is not None:
            self._inject_faults(session_command)
            if session_command == connect.CONNECT:
                with self._lock:
                    self.connect_calls.append(record_call(parameters))
                opened = connect.connect(self.tenant, self.tokens, parameters)
                with self._lock:
                    self._connections[session.shell_id] = opened
            session.connected = session_command == connect.CONNECT
            return CmdletResult()
        if canonical is None or (self.mode == "jump-host" and not session.connected) or (
                self.mode == "direct" and canonical in MODULE_ONLY):
            raise CmdletError(command_not_found(name))
        with self._lock:
            connection = self._connections.get(session.shell_id)
        if connection is not None:  # jump-host: the connected app's token and Exchange roles apply
            self.session_rules.check(connection.app_id, connection.expires, canonical)
        self._inject_faults(canonical)
        if piped is None:
            return self.cmdlets.invoke(canonical, parameters)
        result = CmdletResult()
        for item in piped:
            result.extend(self.cmdlets.invoke(canonical, [*parameters, (None, _identity_of(item))]))
        return result

    def _inject_faults(self, cmdlet: str) -> None:
        if self.faults.exchange_down:
            raise CmdletError(self.cmdlets.errors.unavailable(cmdlet))
        failing = {name.lower() for name in self.faults.psrp_fail}  # the live plan: tests may change it mid-run
        if cmdlet.lower() in failing or "*" in failing:
            raise CmdletError(self.cmdlets.errors.transient(cmdlet))


def _decode(text: str | None) -> bytes:
    try:
        return base64.b64decode((text or "").strip(), validate=True)
    except (binascii.Error, ValueError):
        raise wsman.WSManFault(
            wsman.INTERNAL_ERROR, "w:InvalidMessageInformationHeader", "The PSRP payload is not valid base64."
        ) from None


def _identity_of(item: Any) -> Any:
    """What a piped object binds to -Identity: an Exchange object's Guid, else the value itself."""
    if isinstance(item, Record):
        return item.properties.get("Guid") or item.to_string
    if isinstance(item, str):
        return str(item)
    if isinstance(item, PSObject):
        for name in ("Guid", "Identity", "Name"):
            value = getattr(item, name, None)
            if value is not None:
                return value
    return item


def attach(server: EmulatorServer, mode: str = "jump-host", drop_pool_after: int | None = None) -> ExchangeService:
    """Build the Exchange service for a running emulator server and route its `/wsman` requests to it."""
    service = ExchangeService(server.tenant, server.tokens, server.faults, server.counters, mode, drop_pool_after)
    server.wsman_handler = service.handle_wsman
    return service
