"""psrpcore's deserialised objects as the plain rows and error records the Exchange collector reads.

The rows must equal what the WSMan transport (pypsrp) gives for the same CLIXML, so the evidence does not depend
on the transport: adapted and extended properties both become keys, DateTime stays the text it was sent as, an
object without properties (an enum, an address) becomes its ToString, a GUID is lower-cased.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from psrpcore import (
    ClientRunspacePool,
    ErrorRecordEvent,
    PipelineOutputEvent,
    PipelineStateEvent,
    PSRPEvent,
    WarningRecordEvent,
)
from psrpcore.types import PSDateTime, PSObject, PSRPMessageType
from psrpcore.types._serializer import _serialize_datetime

from auditor.collect import shell as seam
from auditor.collect.clixml import OutputSerializer
from auditor.collect.shell import CmdletErrorInfo

_PRIMITIVE_TYPES = frozenset({"System.String", "System.Int32", "System.Int64", "System.Boolean", "System.Guid",
                              "System.DateTime", "System.Double", "System.Byte", "System.Version"})


class Row(dict[str, Any]):
    """An output object already made a plain row (by the fast path)."""


class OutputPool(ClientRunspacePool):
    """psrpcore's client pool, reading pipeline output the way the WSMan transport does (clixml's fast path).

    psrpcore's own deserialiser costs about 4 ms per Exchange object, 200 s for a 50,000-mailbox listing; any
    shape the fast path does not know, and every other message, still goes through psrpcore."""

    _fast = OutputSerializer()

    def _process_message(self, message: Any) -> Any:
        if message.message_type == PSRPMessageType.PipelineOutput and message.data:
            obj = self._fast.output_object(bytes(message.data).decode("utf-8"))
            if obj is not None:
                return PSRPEvent.create(message.message_type, Row(seam.plain_row(obj)), message.runspace_pool_id,
                                        message.pipeline_id)
        return super()._process_message(message)


def _properties(obj: PSObject) -> dict[str, Any]:
    meta = obj.PSObject
    props: dict[str, Any] = {}
    for prop in [*meta.adapted_properties, *meta.extended_properties]:
        props[prop.name] = prop.get_value(obj)
    return props


def plain(value: Any) -> Any:
    """One value, JSON-ready, the way `shell.plain_value` renders pypsrp's objects."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, PSDateTime | datetime):
        return _serialize_datetime(value)  # the CLIXML text pwsh sent, as pypsrp keeps it
    if isinstance(value, str):
        return seam.plain_value(str(value))
    if isinstance(value, int):
        if isinstance(value, PSObject) and value.PSObject.to_string and _enum_like(value):
            return str(value.PSObject.to_string)
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value).lower()
    if isinstance(value, bytes):
        return seam.plain_value(bytes(value))
    if isinstance(value, dict):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, PSObject):
        props = _properties(value)
        if props:
            return {name: plain(v) for name, v in props.items()}
        return str(value.PSObject.to_string if value.PSObject.to_string is not None else value)
    return str(value)


def _enum_like(value: PSObject) -> bool:
    names = list(value.PSObject.type_names)
    return bool(names) and not any(n.removeprefix("Deserialized.") in _PRIMITIVE_TYPES for n in names[:1])


def plain_row(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Row):
        return dict(obj)
    value = plain(obj)
    return value if isinstance(value, dict) else {"Value": value}


def error_info(record: Any, statement_index: int | None) -> CmdletErrorInfo:
    """An ErrorRecord (psrpcore) as CmdletErrorInfo: its exception's message, FQID and target as text."""
    exception = getattr(record, "Exception", None)
    message = getattr(exception, "Message", None) or str(record)
    target = getattr(record, "TargetObject", None)
    return CmdletErrorInfo(message=seam.one_line(str(message)),
                           fq_error=str(getattr(record, "FullyQualifiedErrorId", "") or ""),
                           target=None if target is None else str(target), statement_index=statement_index)


def pipeline_events(events: list[Any], pipeline_id: uuid.UUID) -> Iterator[tuple[str, Any]]:
    """("output", row) | ("error", record) | ("warning", text) | ("state", reason or None) for one pipeline."""
    for event in events:
        if getattr(event, "pipeline_id", None) != pipeline_id:
            continue
        if isinstance(event, PipelineOutputEvent):
            yield "output", plain_row(event.data)
        elif isinstance(event, ErrorRecordEvent):
            yield "error", event.record
        elif isinstance(event, WarningRecordEvent):
            yield "warning", " ".join(str(getattr(event.record, "Message", "") or "").split())
        elif isinstance(event, PipelineStateEvent):
            yield "state", event.reason


def powershell_version(private_data: Any) -> tuple[int, ...] | None:
    """PSVersion from the PSVersionTable pwsh puts in the pool's ApplicationPrivateData; None when absent."""
    table = private_data.get("PSVersionTable") if isinstance(private_data, dict) else None
    version = table.get("PSVersion") if isinstance(table, dict) else None
    if version is None:
        return None
    parts = []
    for part in str(version).split("-")[0].split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts) or None
