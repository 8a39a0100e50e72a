"""A stand-in for `pwsh -s`: PowerShell's out-of-process server over stdin/stdout, serving the emulated cmdlets.

It speaks the same framing as pwsh (docs/microsoft-facts.md, "PowerShell out-of-process transport") on psrpcore's
server classes, and behaves as pwsh does where the client could go wrong: a pipeline's Data before its Command,
an empty line, an ack sent by the client, or an unknown element ends the process with exit code 4000 after one
line on stderr; stdin EOF ends it the same way. Behind the PSRP layer is the emulator's cmdlet layer, as on the
WSMan endpoint in jump-host mode, plus `Import-Module ExchangeOnlineManagement` (Connect-ExchangeOnline is
unknown until the module is imported) and Connect-ExchangeOnline's token checks, with tokens verified with the
running emulator's key (read from the config file, never from the command line).

Fault knobs (the config's `pwsh_faults`, from `--faults pwsh=...`): `exit` (ends at start, as a launcher whose
pwsh or module is missing would), `garbage` (a non-PSRP line first), `die:<Cmdlet>`, `hang:<Cmdlet>`,
`garbage:<Cmdlet>` (while that cmdlet runs), `module:missing`, `module:<version>`, `version:<PowerShell version>`.
Run as `python -m auditor.emulator.exchange.pwsh_standin --config FILE -NoLogo -NoProfile -s`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from xml.etree import ElementTree

from psrpcore.types import PSVersion

from auditor.emulator.exchange import connect
from auditor.emulator.exchange.binding import bind
from auditor.emulator.exchange.model import CmdletError, CmdletResult, ErrorInfo, Record, command_not_found
from auditor.emulator.exchange.psrp_session import PoolSession
from auditor.emulator.exchange.service import ExchangeService
from auditor.emulator.faults import FaultPlan
from auditor.emulator.tenant import Tenant
from auditor.emulator.tokens import TokenIssuer

EXIT_FATAL = 4000  # pwsh's exit code when its out-of-process server meets a bad line or EOF
MODULE = "ExchangeOnlineManagement"
DEFAULT_MODULE_VERSION = "3.9.0"
DEFAULT_POWERSHELL = "7.4.6"
IMPORT_PARAMS = ("Name", "MinimumVersion", "RequiredVersion", "PassThru", "Force", "DisableNameChecking")
UNKNOWN_ELEMENT = ('An unknown element "{0}" was received. This can happen if the remote process closed or ended '
                   "abnormally.")


# -- the framing, as pwsh's server reads and writes it (written apart from the auditor's client on purpose) --------

POOL = uuid.UUID(int=0)
ACKS = frozenset({"DataAck", "CommandAck", "SignalAck", "CloseAck"})
GUID_ONLY = frozenset({"Command", "Signal", "Close", *ACKS})


@dataclass(frozen=True)
class Packet:
    kind: str
    target: uuid.UUID
    data: bytes = b""


def format_packet(packet: Packet) -> bytes:
    """`CreateDataPacket` / `CreatePSGuidPacket` of PowerShell's OutOfProcessUtils."""
    if packet.kind == "Data":
        text = base64.b64encode(packet.data).decode("ascii")
        return f"<Data Stream='Default' PSGuid='{packet.target}'>{text}</Data>\n".encode("ascii")
    return f"<{packet.kind} PSGuid='{packet.target}' />\n".encode("ascii")


def parse_packet(line: bytes) -> Packet:
    """`ProcessElement`: case-sensitive names; Data has exactly Stream and PSGuid and base64 text, every other
    element exactly PSGuid. ValueError for anything else (pwsh then exits with 4000)."""
    try:
        element = ElementTree.fromstring(line)
    except ElementTree.ParseError:
        raise ValueError("not XML") from None
    attributes = element.attrib
    target = uuid.UUID(attributes.get("PSGuid", ""))
    if element.tag == "Data":
        if set(attributes) != {"Stream", "PSGuid"} or not element.text:
            raise ValueError("bad Data element")
        try:
            return Packet("Data", target, base64.b64decode(element.text, validate=True))
        except binascii.Error:
            raise ValueError("bad base64") from None
    if element.tag not in GUID_ONLY or set(attributes) != {"PSGuid"}:
        raise ValueError(f"unknown element {element.tag}")
    return Packet(element.tag, target)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("-")[0].split(".") if p.isdigit())


class StandinSession(PoolSession):
    """One runspace pool in the stand-in; `module_loaded` once Import-Module succeeded."""

    module_loaded = False

    def pending(self) -> list[tuple[uuid.UUID | None, list[bytes]]]:
        """Everything queued, per target (the pool first), taken off the queues."""
        out = []
        for target in sorted(self._queues, key=lambda t: (t is not None, str(t))):
            payloads = list(self._queues[target])
            self._queues[target].clear()
            if payloads:
                out.append((target, payloads))
        return out


class StandinService(ExchangeService):
    """The jump-host cmdlet layer, plus Import-Module and the stand-in's fault knobs."""

    def __init__(self, *args: Any, knobs: Sequence[str] = (), write: Any = None, command_log: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command_log = command_log  # tests: one line per command received, its name and parameter names
        self.knobs = {k.split(":", 1)[0].lower(): k.split(":", 1)[1] if ":" in k else "" for k in knobs}
        self.per_cmdlet = {(k.split(":", 1)[0].lower(), k.split(":", 1)[1].lower()) for k in knobs if ":" in k}
        self.write = write

    def _run_command(self, session: PoolSession, name: str, parameters: Sequence[tuple[str | None, Any]],
                     piped: list[Any] | None) -> CmdletResult:
        lname = name.lower()
        if self.command_log:
            with open(self.command_log, "a", encoding="utf-8") as log:
                log.write(" ".join([name, *(f"-{n}" for n, _ in parameters if n)]) + "\n")
        if ("die", lname) in self.per_cmdlet:
            os._exit(1)  # the process dies mid-pipeline: no reply, no CommandAck for later ones
        if ("hang", lname) in self.per_cmdlet:
            while True:
                time.sleep(3600)
        if ("garbage", lname) in self.per_cmdlet and self.write is not None:
            self.write(b"WARNING: The ExchangeOnlineManagement module wrote this to the console\n")
        if lname == "import-module":
            return self._import_module(session, parameters)
        if lname == connect.CONNECT.lower() and not getattr(session, "module_loaded", False):
            raise CmdletError(command_not_found(name))  # module auto-loading is off: import it first
        return super()._run_command(session, name, parameters, piped)

    def _import_module(self, session: PoolSession, parameters: Sequence[tuple[str | None, Any]]) -> CmdletResult:
        self._count("psrp:Import-Module")
        bound = bind("Import-Module", IMPORT_PARAMS, [("Name" if n is None else n, v) for n, v in parameters],
                     ("Name",))
        wanted = str(bound["Name"])
        installed = self.knobs.get("module", DEFAULT_MODULE_VERSION)
        minimum = str(bound.get("MinimumVersion", bound.get("RequiredVersion", "")))
        too_old = bool(minimum) and installed != "missing" and _version(installed) < _version(minimum)
        if wanted.lower() != MODULE.lower() or installed == "missing" or too_old:
            result = CmdletResult()
            result.errors.append(_module_not_found(wanted, minimum))
            return result
        session.module_loaded = True  # type: ignore[attr-defined]
        if not bound.get("PassThru"):
            return CmdletResult()
        base = str(Path.home() / ".local/share/powershell/Modules" / MODULE / installed)
        info = Record(("Deserialized.System.Management.Automation.PSModuleInfo", "Deserialized.System.Object"),
                      {"Name": MODULE, "Version": installed, "ModuleType": "Script", "ModuleBase": base}, MODULE)
        return CmdletResult(records=[info])


def _module_not_found(name: str, minimum: str) -> ErrorInfo:
    """Import-Module's own non-terminating error (PowerShell's Modules resources)."""
    if minimum:
        message = (f"The specified module '{name}' with version '{minimum}' was not loaded because no valid module "
                   "file was found in any module directory.")
        fqid = "Modules_ModuleWithVersionNotFound,Microsoft.PowerShell.Commands.ImportModuleCommand"
    else:
        message = (f"The specified module '{name}' was not loaded because no valid module file was found in any "
                   "module directory.")
        fqid = "Modules_ModuleNotFound,Microsoft.PowerShell.Commands.ImportModuleCommand"
    return ErrorInfo("System.IO.FileNotFoundException", message, fqid, "ResourceUnavailable", "Import-Module", name)


class StandinServer:
    """The read loop: one packet per line, answered as pwsh answers it."""

    def __init__(self, service: StandinService, out: BinaryIO, powershell: str) -> None:
        self.service = service
        self.out = out
        self.powershell = powershell
        self._lock = threading.Lock()
        self.session = self._new_session()

    def _new_session(self) -> StandinSession:
        session = StandinSession("", "", "", 10_000_000, self.service._run_command)
        table = session.pool.application_private_data.setdefault("PSVersionTable", {})
        table["PSVersion"] = PSVersion(self.powershell)
        table["PSEdition"] = "Core"
        return session

    def write(self, line: bytes) -> None:
        with self._lock:
            self.out.write(line)
            self.out.flush()

    def send(self, packet: Packet) -> None:
        self.write(format_packet(packet))

    def _flush(self) -> None:
        for target, payloads in self.session.pending():
            for data in payloads:
                self.send(Packet("Data", target or POOL, data))

    def serve(self, stdin: BinaryIO) -> int:
        for raw in iter(stdin.readline, b""):
            line = raw.rstrip(b"\r\n")
            try:
                packet = parse_packet(line) if line.strip() else None
            except ValueError:
                packet = None
            if packet is None or packet.kind in ACKS:
                return _fatal(packet.kind if packet is not None else "")
            with self.session.lock:
                self._handle(packet)
        return _fatal("")

    def _handle(self, packet: Packet) -> None:
        session, target = self.session, packet.target
        if packet.kind == "Data" and target == POOL:
            session.feed(packet.data)
            self._flush()
            self.send(Packet("DataAck", POOL))
        elif packet.kind == "Data":
            if target not in session.pool.pipeline_table and not session.knows(str(target)):
                self.send(Packet("DataAck", target))  # pwsh acks and drops data for a pipeline it doesn't know
                return
            self.send(Packet("DataAck", target))
            session.feed(packet.data)
            self._flush()
        elif packet.kind == "Command":
            session.open_pipeline(str(target))
            self.send(Packet("CommandAck", target))
        elif packet.kind == "Signal":
            if target == POOL:
                raise SystemExit(_fatal("Signal"))
            session.signal(str(target))
            self._flush()
            self.send(Packet("SignalAck", target))
        elif packet.kind == "Close" and target != POOL:
            if target in session.pool.pipeline_table:
                session.signal(str(target))
            self._flush()
            self.send(Packet("CloseAck", target))
        else:  # Close(pool): its Closed state, then CloseAck; the next Data would open a new pool
            for pid in list(session.pool.pipeline_table):
                session.signal(str(pid))
            session.pool.close()
            session._drain()
            self._flush()
            self.send(Packet("CloseAck", POOL))
            self.session = self._new_session()


def _fatal(element: str) -> int:
    sys.stderr.write(UNKNOWN_ELEMENT.format(element) + "\n")
    sys.stderr.flush()
    return EXIT_FATAL


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--config" not in args or args.index("--config") + 1 >= len(args):
        sys.stderr.write("usage: pwsh_standin --config FILE -NoLogo -NoProfile -s\n")
        return 64
    config_path = args[args.index("--config") + 1]
    if not any(a.lower() in ("-s", "-servermode") for a in args):
        sys.stderr.write("the stand-in only serves PowerShell's server mode (-s)\n")
        return 64
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    knobs = [str(k) for k in config.get("pwsh_faults", [])]
    names = {k.split(":", 1)[0].lower(): k.split(":", 1)[-1] for k in knobs}
    if "exit" in names:
        sys.stderr.write("pwsh: The ExchangeOnlineManagement module could not be loaded; exiting.\n")
        return 1
    out = sys.stdout.buffer
    if "garbage" in names and names["garbage"] == "garbage":
        out.write(b"PowerShell 7.4.6\r\nCopyright (c) Microsoft Corporation.\n")
        out.flush()
    tenant = Tenant(id=config["tenant_id"], default_domain=config["domain"], display_name=config["name"],
                    now=datetime.fromisoformat(config["now"]), doc=config["tenant"])  # resolved by the emulator
    tokens = TokenIssuer(issuer=config["issuer"], key=base64.b64decode(config["key"]))
    plan = FaultPlan(psrp_fail=frozenset(config.get("psrp_fail", [])),
                     exchange_down=bool(config.get("exchange_down", False)))
    server: StandinServer | None = None
    service = StandinService(tenant, tokens, plan, None, "jump-host", knobs=knobs,
                             command_log=config.get("command_log"),
                             write=lambda line: server.write(line) if server else None)
    server = StandinServer(service, out, names.get("version", DEFAULT_POWERSHELL))
    try:
        return server.serve(sys.stdin.buffer)
    except SystemExit as exc:
        return int(exc.code or 0)
    except BrokenPipeError:
        return EXIT_FATAL


if __name__ == "__main__":
    sys.exit(main())
