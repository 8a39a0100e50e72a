"""Transport-neutral results of emulated cmdlets: output records, error records, terminating errors.

A PSRP or REST transport turns these into its own wire shapes; nothing here knows about either.
"""

from __future__ import annotations

import hashlib
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
AMBIGUOUS = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException"
PARAMETER_BINDING = "System.Management.Automation.ParameterBindingException"
COMMAND_NOT_FOUND = "System.Management.Automation.CommandNotFoundException"
SCRIPTS_NOT_ALLOWED = "System.Management.Automation.ParseException"
TRANSIENT = "Microsoft.Exchange.Data.Directory.ADTransientException"
UNAUTHORIZED = "System.UnauthorizedAccessException"
INVALID_OPERATION = "System.InvalidOperationException"

# Exchange's task classes, named in fully qualified error ids.
TASK_CLASSES = {
    "Get-Mailbox": "Microsoft.Exchange.Management.RecipientTasks.GetMailbox",
    "Get-EXOMailbox": "Microsoft.Exchange.Management.RestApiClient.GetExoMailbox",
    "Get-Recipient": "Microsoft.Exchange.Management.RecipientTasks.GetRecipient",
    "Get-DistributionGroup": "Microsoft.Exchange.Management.RecipientTasks.GetDistributionGroup",
    "Get-DistributionGroupMember": "Microsoft.Exchange.Management.RecipientTasks.GetDistributionGroupMember",
}


@dataclass(frozen=True)
class Record:
    """One output object: its .NET type names (most derived first), ordered properties and ToString."""

    type_names: tuple[str, ...]
    properties: dict[str, Any]
    to_string: str


@dataclass(frozen=True)
class ErrorInfo:
    """An error record: exception type and message, FullyQualifiedErrorId, category, target."""

    exception_type: str
    message: str
    fqid: str
    category: str  # a System.Management.Automation.ErrorCategory name
    activity: str  # the cmdlet name
    target: Any = None


@dataclass
class CmdletResult:
    records: list[Record] = field(default_factory=list)
    errors: list[ErrorInfo] = field(default_factory=list)  # non-terminating
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: CmdletResult) -> None:
        self.records.extend(other.records)
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)


class CmdletError(Exception):
    """A terminating error: the pipeline fails with this record."""

    def __init__(self, error: ErrorInfo):
        super().__init__(error.message)
        self.error = error


class ErrorFactory:
    """Builds errors worded and identified the way Exchange Online words them, for one tenant."""

    def __init__(self, tenant_id: str, now: datetime):
        digest = hashlib.sha256(tenant_id.encode()).digest()
        a, b, c = digest[0] % 20 + 1, digest[1] % 9 + 1, digest[2] % 5 + 1
        self.server = f"DM6PR{a:02d}A00{b}DC0{c}.NAMPR{a:02d}A00{b}.PROD.OUTLOOK.COM"
        self.timestamp = f"{now.month}/{now.day}/{now.year} {now.strftime('%I:%M:%S %p').lstrip('0')}"

    def _fqid(self, cmdlet: str, exception_type: str) -> str:
        short = exception_type.rsplit(".", 1)[-1]
        task = TASK_CLASSES.get(cmdlet, "Microsoft.Exchange.Management.Tasks." + cmdlet.replace("-", ""))
        code = f"{zlib.crc32(f'{task}|{short}'.encode()):08X}"
        return (
            f"[Server={self.server},RequestId={uuid.uuid4()},TimeStamp={self.timestamp}] "
            f"[FailureCategory=Cmdlet-{short}] {code},{task}"
        )

    def not_found(self, cmdlet: str, identity: Any) -> ErrorInfo:
        message = (
            f"The operation couldn't be performed because object '{identity}' couldn't be found on '{self.server}'."
        )
        return ErrorInfo(NOT_FOUND, message, self._fqid(cmdlet, NOT_FOUND), "NotSpecified", cmdlet, identity)

    def ambiguous(self, cmdlet: str, identity: Any) -> ErrorInfo:
        message = f"The operation couldn't be performed because '{identity}' matches multiple entries."
        return ErrorInfo(AMBIGUOUS, message, self._fqid(cmdlet, AMBIGUOUS), "NotSpecified", cmdlet, identity)

    def transient(self, cmdlet: str) -> ErrorInfo:
        message = "The server is busy. Please try again later. (Active Directory response: transient error)"
        return ErrorInfo(TRANSIENT, message, self._fqid(cmdlet, TRANSIENT), "NotSpecified", cmdlet)

    def unavailable(self, cmdlet: str) -> ErrorInfo:
        message = "The service is currently unavailable. Please try again later. (503 Service Unavailable)"
        return ErrorInfo(TRANSIENT, message, self._fqid(cmdlet, TRANSIENT), "ConnectionError", cmdlet)


def command_not_found(name: str) -> ErrorInfo:
    message = (
        f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
        "and try again."
    )
    return ErrorInfo(COMMAND_NOT_FOUND, message, "CommandNotFoundException", "ObjectNotFound", name, name)


def scripts_not_allowed() -> ErrorInfo:
    message = "The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode."
    return ErrorInfo(SCRIPTS_NOT_ALLOWED, message, "ScriptsNotAllowed", "ParserError", "", None)


def parameter_error(cmdlet: str, fq_reason: str, message: str, target: Any = None) -> ErrorInfo:
    return ErrorInfo(PARAMETER_BINDING, message, f"{fq_reason},{cmdlet}", "InvalidArgument", cmdlet, target)


def clixml_escape(text: str | None) -> str | None:
    """Control characters as CLIXML writes them (_x001B_): psrpcore leaves <ToString> unescaped."""
    if text is None:
        return None
    return "".join(f"_x{ord(c):04X}_" if (ord(c) < 0x20 and c not in "\t\n\r") or 0x7F <= ord(c) < 0xA0 else c
                   for c in text)
