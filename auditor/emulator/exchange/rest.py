"""The emulated InvokeCommand endpoint: `POST /adminapi/beta/{tenantId}/InvokeCommand`, the undocumented REST
transport of the ExchangeOnlineManagement module, over the SAME `ExchangeCmdlets` the PSRP side runs.

One request runs one cmdlet. The bearer token is checked as Exchange checks the one given to
Connect-ExchangeOnline (audience, tenant, the Exchange.ManageAsApp role); output records become plain JSON objects
in `value`, paged by `Prefer: odata.maxpagesize` with an opaque `@odata.nextLink` that the client re-POSTs the
same body to. The server's seam hands handlers the path without its query, so the page token rides in the link's
path (`.../InvokeCommand/skiptoken=<token>`); clients treat the link as opaque, as they must with Exchange's.
Errors carry Exchange's shape (`error.details[].message` = `ExNNNN|<exception type>|<message>`): a cmdlet's
non-terminating errors answer 404 (not found) or 400, a terminating one 500.
The HTTP server counts `POST /adminapi/{path}` and answers 503 itself under `exchange_down`; here each request
that runs a cmdlet counts as `rest:<Cmdlet>`, each refusal as `rest:401` / `rest:403` / `rest:429`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import uuid
import zlib
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from auditor.emulator.clouds import ENVIRONMENT_AUDIENCES, EXCHANGE_APP_ID
from auditor.emulator.exchange.cmdlets import ExchangeCmdlets
from auditor.emulator.exchange.connect import MANAGE_AS_APP
from auditor.emulator.exchange.model import NOT_FOUND, CmdletError, ErrorInfo, Record, command_not_found
from auditor.emulator.exchange.session_rules import SessionRules
from auditor.emulator.faults import FaultPlan, RequestCounters
from auditor.emulator.tenant import Tenant
from auditor.emulator.tokens import TokenIssuer

if TYPE_CHECKING:
    from auditor.emulator.server import EmulatorServer

Response = tuple[int, dict[str, str], bytes]
ROUTE = re.compile(r"^/adminapi/beta/(?P<tenant>[^/]+)/InvokeCommand(?:/skiptoken=(?P<token>[A-Za-z0-9_-]+))?/?$",
                   re.IGNORECASE)
PAGE_SIZE = 1000  # when the request states no `Prefer: odata.maxpagesize`
JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
EXECUTION_TYPE = "Microsoft.Exchange.Management.PSDirectInvoke.DirectInvokeCmdletExecutionException"
KNOWN_IDS = {NOT_FOUND: "Ex6F9304"}  # the id Exchange Online gives ManagementObjectNotFoundException


class RestService:
    """InvokeCommand for one tenant; `handle` is the HTTP server's `rest_handler`."""

    def __init__(self, tenant: Tenant, tokens: TokenIssuer, faults: FaultPlan | None = None,
                 counters: RequestCounters | None = None, cmdlets: ExchangeCmdlets | None = None) -> None:
        self.tenant = tenant
        self.tokens = tokens
        self.faults = faults or FaultPlan()
        self.counters = counters
        self.cmdlets = cmdlets or ExchangeCmdlets(tenant.id, tenant.doc, tenant.now)
        self._lock = threading.Lock()
        self._sequence = 0  # InvokeCommand requests, for `throttle_every`
        self.rules = SessionRules.from_doc(tenant.doc)
        # The cloud this endpoint plays (emulator.exchangeEnvironment): a token for another cloud's Exchange is
        # refused, as the worldwide endpoint refuses a GCC High token (docs/microsoft-facts.md, "Exchange REST").
        self.environment = str((tenant.doc.get("emulator") or {}).get("exchangeEnvironment") or "O365Default")
        self.audiences = ENVIRONMENT_AUDIENCES[self.environment] | {EXCHANGE_APP_ID}

    def _count(self, route: str) -> None:
        if self.counters is not None:
            self.counters.count(route)

    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        match = ROUTE.match(path)
        if match is None:
            return _error(404, "NotFound", f"The resource '{path}' was not found.")
        refused = self._authorize(headers, match["tenant"])
        if refused is not None:
            return refused
        if self._throttled():
            self._count("rest:429")
            wait = self.faults.retry_after_s
            return _error(429, "TooManyRequests", "The request was throttled. Retry after the interval the "
                          "Retry-After header gives.", {"Retry-After": f"{wait:g}"})
        anchor = _header(headers, "X-AnchorMailbox")
        if anchor and not anchor.lower().endswith("@" + match["tenant"].lower()):
            return _error(400, "BadRequest", f"X-AnchorMailbox '{anchor}' does not belong to tenant "
                          f"'{match['tenant']}'.")
        try:
            name, parameters = _cmdlet_input(body)
        except ValueError as exc:
            return _error(400, "BadRequest", str(exc))
        canonical = self.cmdlets.canonical_name(name)
        if canonical is None:
            return _cmdlet_error(400, "BadRequest", [command_not_found(name)])
        if self.rules.denies(self._caller(headers), canonical):
            # A cmdlet outside the caller's Exchange roles: the REST shape reported for the module's REST calls
            # (docs/microsoft-facts.md, "Exchange Online session").
            self._count("rest:denied")
            return _error(401, "Unauthorized", f"User is not allowed to call {canonical}",
                          inner="Microsoft.Exchange.Admin.OData.Core.ODataServiceException")
        self._count(f"rest:{canonical}")
        try:
            self._inject_faults(canonical)
            result = self.cmdlets.invoke(canonical, parameters)
        except CmdletError as exc:
            return _cmdlet_error(500, "InternalServerError", [exc.error])
        if result.errors:
            not_found = all(e.exception_type == NOT_FOUND for e in result.errors)
            return _cmdlet_error(404 if not_found else 400, "NotFound" if not_found else "BadRequest",
                                 result.errors, result.warnings)
        return self._page(match, headers, body, [_row(r) for r in result.records], result.warnings)

    # -- authorization, faults, paging ---------------------------------------------------------------

    def _authorize(self, headers: Mapping[str, str], path_tenant: str) -> Response | None:
        """The checks Exchange makes of the token Connect-ExchangeOnline presents, worded the same way."""
        scheme, _, token = _header(headers, "Authorization").partition(" ")
        claims = self.tokens.verify(token.strip()) if scheme.lower() == "bearer" else None
        problem, status = None, 401
        if claims is None:
            problem = "The access token is missing, invalid or has expired."
        elif claims.audience.rstrip("/").lower() not in self.audiences:
            expected = sorted(ENVIRONMENT_AUDIENCES[self.environment])[0]
            problem = f"The access token is invalid: wrong audience '{claims.audience}' (expected '{expected}')."
        elif claims.tenant_id.lower() != path_tenant.lower() or path_tenant.lower() != self.tenant.id.lower():
            problem = f"The access token was issued for tenant '{claims.tenant_id}', not for '{path_tenant}'."
        elif MANAGE_AS_APP not in claims.roles:
            status = 403
            problem = (f"The role assigned to application {claims.app_id} isn't supported in this scenario. "
                       "Please check online documentation for assigning correct Directory Roles to Azure AD "
                       "Application for EXO App-Only Authentication.")
        if problem is None:
            return None
        self._count(f"rest:{status}")
        code = "UnAuthorized" if status == 401 else "Forbidden"
        extra = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else {}
        return _error(status, code, problem, extra)

    def _caller(self, headers: Mapping[str, str]) -> str:
        claims = self.tokens.verify(_header(headers, "Authorization").partition(" ")[2].strip())
        return claims.app_id if claims is not None else ""

    def _throttled(self) -> bool:
        every = self.faults.throttle_every
        with self._lock:
            self._sequence += 1
            return bool(every) and self._sequence % every == 0

    def _inject_faults(self, cmdlet: str) -> None:
        """`psrp_fail` names cmdlets that fail whatever the transport (a terminating, transient error)."""
        failing = {name.lower() for name in self.faults.psrp_fail}  # the live plan: tests may change it mid-run
        if cmdlet.lower() in failing or "*" in failing:
            raise CmdletError(self.cmdlets.errors.transient(cmdlet))

    def _page(self, match: re.Match[str], headers: Mapping[str, str], body: bytes, rows: list[dict[str, Any]],
              warnings: list[str]) -> Response:
        size = _page_size(headers)
        digest = hashlib.sha256(body).hexdigest()[:16]
        offset = 0
        if match["token"]:
            try:
                state = json.loads(base64.urlsafe_b64decode(match["token"] + "=" * (-len(match["token"]) % 4)))
                offset, expected = int(state["o"]), str(state["h"])
            except (ValueError, KeyError, TypeError):
                return _error(400, "BadRequest", "The skip token is not valid.")
            if expected != digest:
                return _error(400, "BadRequest", "The skip token belongs to another request body.")
        base = f"/adminapi/beta/{match['tenant']}"
        host = _header(headers, "Host") or "127.0.0.1"
        payload: dict[str, Any] = {
            "@odata.context": f"https://{host}{base}/$metadata#Collection(Exchange.GenericHashTable)",
            "adminapi.warnings@odata.type": "#Collection(String)",
            "@adminapi.warnings": warnings if offset == 0 else [],
            "value": rows[offset:offset + size],
        }
        if offset + size < len(rows):
            token = base64.urlsafe_b64encode(json.dumps({"o": offset + size, "h": digest}).encode()).decode()
            payload["@odata.nextLink"] = f"https://{host}{base}/InvokeCommand/skiptoken={token.rstrip('=')}"
        return 200, {"Content-Type": JSON, "Preference-Applied": f"odata.maxpagesize={size}",
                     "request-id": str(uuid.uuid4())}, json.dumps(payload).encode()


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((str(v) for k, v in headers.items() if k.lower() == name.lower()), "")


def _page_size(headers: Mapping[str, str]) -> int:
    for part in _header(headers, "Prefer").split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "odata.maxpagesize" and value.strip().isdigit() and int(value) > 0:
            return min(int(value), PAGE_SIZE)
    return PAGE_SIZE


def _cmdlet_input(body: bytes) -> tuple[str, dict[str, Any]]:
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        raise ValueError("The request body is not JSON.") from None
    cmdlet = doc.get("CmdletInput") if isinstance(doc, dict) else None
    name = cmdlet.get("CmdletName") if isinstance(cmdlet, dict) else None
    parameters = cmdlet.get("Parameters", {}) if isinstance(cmdlet, dict) else None
    if not isinstance(name, str) or not name or not isinstance(parameters, dict):
        raise ValueError("The request body must be {\"CmdletInput\": {\"CmdletName\": ..., \"Parameters\": {...}}}.")
    return name, parameters


def _plain(value: Any) -> Any:
    """JSON values as the endpoint serialises them: GUIDs and dates as strings."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _row(record: Record) -> dict[str, Any]:
    return {name: _plain(value) for name, value in record.properties.items()}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
           inner: str | None = None) -> Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if inner:
        body["error"]["innererror"] = {"message": message, "type": inner}
    return status, {"Content-Type": JSON, **(headers or {})}, json.dumps(body).encode()


def _error_id(exception_type: str) -> str:
    return KNOWN_IDS.get(exception_type) or f"Ex{zlib.crc32(exception_type.encode()) & 0xFFFFFF:06X}"


def _cmdlet_error(status: int, code: str, errors: list[ErrorInfo], warnings: list[str] | None = None) -> Response:
    """Exchange's cmdlet-error body: a generic message, the cmdlet's own in `details` and the inner exception."""
    body = {"error": {
        "code": code,
        "message": "Error executing cmdlet",
        "details": [{"code": "Client", "target": "",
                     "message": f"{_error_id(e.exception_type)}|{e.exception_type}|{e.message}"} for e in errors],
        "innererror": {
            "message": "Error executing cmdlet",
            "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            "internalexception": {"message": f"Exception of type '{EXECUTION_TYPE}' was thrown.",
                                  "type": EXECUTION_TYPE},
        },
        "adminapi.warnings@odata.type": "#Collection(String)",
        "@adminapi.warnings": list(warnings or ()),
    }}
    return status, {"Content-Type": JSON}, json.dumps(body).encode()


def attach_rest(server: EmulatorServer, cmdlets: ExchangeCmdlets | None = None) -> RestService:
    """Serve InvokeCommand on a running emulator server; pass the PSRP side's `ExchangeService.cmdlets` to share
    one cmdlet layer between the two transports."""
    service = RestService(server.tenant, server.tokens, server.faults, server.counters, cmdlets)
    server.rest_handler = service.handle
    return service
