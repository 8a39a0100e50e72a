"""The WSMan SOAP layer: parse a request envelope, build responses and faults shaped as Windows sends them."""

from __future__ import annotations

import base64
import hmac
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "pwsh": "http://schemas.microsoft.com/powershell",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
}
_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ACTIONS = {
    _TRANSFER + "Create": "Create",
    _TRANSFER + "Delete": "Delete",
    _TRANSFER + "Get": "Get",
    _SHELL + "Receive": "Receive",
    _SHELL + "Command": "Command",
    _SHELL + "Send": "Send",
    _SHELL + "Signal": "Signal",
}
CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
DONE = _SHELL + "CommandState/Done"
RUNNING = _SHELL + "CommandState/Running"
SIGNAL_TERMINATE = (_SHELL + "signal/Terminate").lower()
RESOURCE_PREFIX = "http://schemas.microsoft.com/powershell/"

# WSMan fault codes (HRESULTs as Windows reports them).
OPERATION_TIMEOUT = 2150858793  # 0x80338029
SHELL_NOT_FOUND = 2150858843  # 0x8033805B, ERROR_WSMAN_INVALID_SELECTORS for a gone shell
RESOURCE_NOT_FOUND = 2150858811  # 0x8033803B
ACTION_NOT_SUPPORTED = 2150858772  # 0x80338014
INTERNAL_ERROR = 2150859046  # 0x80338126


class WSManFault(Exception):
    """A fault to answer with HTTP 500 and an s:Fault body."""

    def __init__(self, code: int, subcode: str, reason: str, message: str | None = None):
        super().__init__(reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.message = message or reason


def shell_not_found(shell_id: str) -> WSManFault:
    return WSManFault(
        SHELL_NOT_FOUND,
        "w:InvalidSelectors",
        "The WS-Management service cannot process the request because the request contained invalid "
        "selectors for the resource.",
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
        "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
        "exists on the server. Provide the correct ShellId or create a new shell and retry the operation.",
    )


def operation_timeout() -> WSManFault:
    return WSManFault(
        OPERATION_TIMEOUT,
        "w:TimedOut",
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
    )


def resource_not_found(resource_uri: str) -> WSManFault:
    return WSManFault(
        RESOURCE_NOT_FOUND,
        "w:DestinationUnreachable",
        "The WS-Management service cannot process the request because the resource URI was not found.",
        f"The WS-Management service cannot process the request. The resource URI ({resource_uri}) was not "
        "found in the WS-Management catalog. The catalog contains the metadata that describes resources, or "
        "logical endpoints.",
    )


@dataclass(frozen=True)
class Request:
    action: str  # short name: Create, Receive, Command, ...
    action_uri: str
    message_id: str
    resource_uri: str
    shell_id: str | None
    max_envelope_size: int
    operation_timeout_s: float
    body: ET.Element

    @property
    def configuration(self) -> str:
        return self.resource_uri.removeprefix(RESOURCE_PREFIX)

    def find(self, path: str) -> ET.Element | None:
        return self.body.find(path, NS)


def parse(data: bytes) -> Request:
    """Parse a SOAP request; raises ValueError when it is not a WSMan envelope."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ValueError(f"malformed XML: {exc}") from None
    header, body = root.find("s:Header", NS), root.find("s:Body", NS)
    if header is None or body is None:
        raise ValueError("not a SOAP envelope")
    action_uri = (header.findtext("wsa:Action", "", NS) or "").strip()
    selector = header.find("wsman:SelectorSet/wsman:Selector[@Name='ShellId']", NS)
    timeout = re.fullmatch(r"PT([\d.]+)S", (header.findtext("wsman:OperationTimeout", "", NS) or "").strip())
    try:
        max_envelope = int(header.findtext("wsman:MaxEnvelopeSize", "", NS) or 153600)
    except ValueError:
        max_envelope = 153600
    return Request(
        action=ACTIONS.get(action_uri, ""),
        action_uri=action_uri,
        message_id=(header.findtext("wsa:MessageID", "", NS) or "").strip(),
        resource_uri=(header.findtext("wsman:ResourceURI", "", NS) or "").strip(),
        shell_id=(selector.text or "").strip() if selector is not None else None,
        max_envelope_size=max(max_envelope, 8192),
        operation_timeout_s=float(timeout.group(1)) if timeout else 20.0,
        body=body,
    )


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        f'<s:Envelope xml:lang="en-US" xmlns:s="{NS["s"]}" xmlns:a="{NS["wsa"]}" xmlns:x="{NS["wst"]}" '
        f'xmlns:w="{NS["wsman"]}" xmlns:rsp="{NS["rsp"]}">'
        f"<s:Header><a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def response(request: Request, body: str = "") -> tuple[int, dict[str, str], bytes]:
    return (
        200,
        {"Content-Type": CONTENT_TYPE},
        _envelope(request.action_uri + "Response", request.message_id, body),
    )


def fault(request: Request | None, error: WSManFault, machine: str = "localhost") -> tuple[int, dict[str, str], bytes]:
    body = (
        f"<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>{escape(error.subcode)}</s:Value>"
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{escape(error.reason)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        f'Code="{error.code}" Machine={quoteattr(machine)}><f:Message>{escape(error.message)}</f:Message>'
        "</f:WSManFault></s:Detail></s:Fault>"
    )
    relates_to = request.message_id if request is not None else ""
    envelope = _envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)
    return 500, {"Content-Type": CONTENT_TYPE}, envelope


def created_body(shell_id: str, resource_uri: str, owner: str, address: str) -> str:
    sid, uri = escape(shell_id), escape(resource_uri)
    return (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        f'<w:ResourceURI>{uri}</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">{sid}</w:Selector>'
        "</w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>" + shell_body(shell_id, resource_uri, owner)
    )


def shell_body(shell_id: str, resource_uri: str, owner: str, state: str | None = None) -> str:
    state_xml = f"<rsp:State>{escape(state)}</rsp:State>" if state else ""
    return (
        f"<rsp:Shell><rsp:ShellId>{escape(shell_id)}</rsp:ShellId><rsp:Name>WinRM1</rsp:Name>"
        f"<rsp:ResourceUri>{escape(resource_uri)}</rsp:ResourceUri><rsp:Owner>{escape(owner)}</rsp:Owner>"
        "<rsp:ClientIP>127.0.0.1</rsp:ClientIP><rsp:ProcessId>4242</rsp:ProcessId>"
        "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut><rsp:InputStreams>stdin pr</rsp:InputStreams>"
        f"<rsp:OutputStreams>stdout</rsp:OutputStreams>{state_xml}"
        "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
        "</rsp:Shell>"
    )


def receive_body(payloads: list[bytes], command_id: str | None, state: str | None) -> str:
    """One stdout Stream with the payloads back to back (PSRP fragments are self-delimiting)."""
    attr = f" CommandId={quoteattr(command_id)}" if command_id else ""
    data = b"".join(payloads)
    stream = f'<rsp:Stream Name="stdout"{attr}>{base64.b64encode(data).decode()}</rsp:Stream>' if data else ""
    state_xml = f"<rsp:CommandState{attr} State={quoteattr(state)}/>" if state and command_id else ""
    return f"<rsp:ReceiveResponse>{stream}{state_xml}</rsp:ReceiveResponse>"


def command_body(command_id: str) -> str:
    return f"<rsp:CommandResponse><rsp:CommandId>{escape(command_id)}</rsp:CommandId></rsp:CommandResponse>"


def receive_budget(max_envelope_size: int) -> int:
    """Raw PSRP bytes that fit one ReceiveResponse once base64-encoded inside the envelope."""
    return max(4096, (max_envelope_size - 2048) * 3 // 4)


def check_basic(headers: Mapping[str, str], username: str | None, password: str | None) -> bool:
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic" or username is None or password is None:
        return False
    try:
        # The challenge names no charset (RFC 7617 section 2.1: the encoding is then undefined); the bytes are
        # read as ISO-8859-1, what Windows' code page 1252 gives for them and what clients send (decisions.md).
        user, _, given = base64.b64decode(token.strip(), validate=True).decode("iso-8859-1").partition(":")
    except ValueError:
        return False
    return user.lower() == username.lower() and hmac.compare_digest(given.encode(), password.encode())


UNAUTHORIZED: tuple[int, dict[str, str], bytes] = (401, {"WWW-Authenticate": 'Basic realm="WSMAN"'}, b"")
