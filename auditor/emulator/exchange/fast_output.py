"""Output records as CLIXML, byte for byte what psrpcore writes, at a fraction of its cost.

psrpcore serialises a PSObject value by value through ElementTree (about 0.4 ms for a Get-Mailbox row), so
the emulator spent 20 s of CPU on a 50,000-mailbox listing before its first Receive could answer. The records
the cmdlets emit hold only strings, booleans, integers, GUIDs, nulls and string lists; `record_xml` writes
those directly, and anything else (`None` from it) goes through psrpcore as before. tests/emulator_exchange/
test_fast_output.py holds the two to the same bytes.

`queue_output` hands the bytes to the pipeline's runspace pool the way psrpcore 0.3.1's own `prepare_message`
does (its send buffer and fragment counter are private; psrpcore is pinned, see psrp_session.fail_pipeline).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from psrpcore import ServerPipeline, StreamType
from psrpcore._payload import PSRPMessage, create_message  # private, pinned psrpcore 0.3.1
from psrpcore.types import PSInvocationState, PSRPMessageType

from auditor.emulator.exchange.model import Record, clixml_escape

INT32_MAX = 2**31 - 1
LIST_TYPES = "<T>System.Collections.ArrayList</T><T>System.Object</T>"
# psrpcore's _serialize_string: "_x" is escaped first (the _xHHHH_ form is case-insensitive), then control
# characters, surrogates and astral code points become _xHHHH_ of their UTF-16 code units.
_ESCAPE_ESCAPE = re.compile("(?i)_(x)")
_ESCAPE = re.compile("[\u0000-\u001F\u007F-\u009F\uD800-\uD8FF\uDC00-\uDFFF\U00010000-\U0010FFFF]")


def _code_units(match: re.Match[str]) -> str:
    raw = match.group(0).encode("utf-16-be", errors="surrogatepass").hex().upper()
    return "".join(f"_x{raw[i:i + 4]}_" for i in range(0, len(raw), 4))


def clixml_string(value: str) -> str:
    if value.isascii() and value.isprintable() and "_x" not in value and "_X" not in value:
        return value  # printable ASCII without "_x": nothing to escape (the common case, without two regexes)
    return _ESCAPE.sub(_code_units, _ESCAPE_ESCAPE.sub("_x005F_\\1", value))


def _text(value: str) -> str:
    """ElementTree's escaping of element text."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    """ElementTree's escaping of an attribute value (Python 3.11)."""
    return (_text(value).replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
            .replace("\t", "&#09;"))


def _primitive(tag_name: str, value: Any) -> str | None:
    """`<S N="...">text</S>` and friends; None for a value psrpcore would not write as a primitive."""
    if value is None:
        return f"<Nil{tag_name} />"
    if isinstance(value, bool):
        return f"<B{tag_name}>{'true' if value else 'false'}</B>"
    if isinstance(value, int):
        tag = "I64" if value > INT32_MAX else "I32"
        return f"<{tag}{tag_name}>{value}</{tag}>"
    if isinstance(value, uuid.UUID):
        return f"<G{tag_name}>{value}</G>"
    if isinstance(value, str) and type(value) is str:
        text = _text(clixml_string(value))
        return f"<S{tag_name}>{text}</S>" if text else f"<S{tag_name} />"
    return None


def record_xml(record: Record) -> str | None:
    """The CLIXML psrpcore writes for `psrp_session.to_psobject(record)`, or None outside the simple shapes."""
    if not record.type_names or record.type_names[0] == "System.Collections.ArrayList":
        return None
    parts = ['<Obj RefId="0"><TN RefId="0">', *(f"<T>{_text(t)}</T>" for t in record.type_names), "</TN>"]
    list_type_seen = False
    lists: set[int] = set()
    next_ref = 1
    if record.properties:
        parts.append("<Props>")
        for name, value in record.properties.items():
            tag_name = f' N="{_attribute(clixml_string(name))}"'
            if isinstance(value, list):
                items = [_primitive("", v) if type(v) is str else None for v in value]
                if None in items or id(value) in lists:  # psrpcore writes a <Ref> to a list it has seen
                    return None
                lists.add(id(value))
                types = '<TNRef RefId="1" />' if list_type_seen else f'<TN RefId="1">{LIST_TYPES}</TN>'
                list_type_seen = True
                body = f"<LST>{''.join(items)}</LST>" if items else "<LST />"  # type: ignore[arg-type]
                parts.append(f'<Obj RefId="{next_ref}"{tag_name}>{types}{body}</Obj>')
                next_ref += 1
                continue
            element = _primitive(tag_name, value)
            if element is None:
                return None
            parts.append(element)
        parts.append("</Props>")
    if record.to_string:
        parts.append(f"<ToString>{_text(clixml_escape(record.to_string) or '')}</ToString>")
    parts.append("</Obj>")
    return "".join(parts)


def queue_output(pipeline: ServerPipeline, record: Record) -> bool:
    """Queue one output record on a running pipeline; False (nothing queued) when the fast path does not apply."""
    if pipeline.state != PSInvocationState.Running:
        return False
    xml = record_xml(record)
    if xml is None:
        return False
    pool = pipeline.runspace_pool
    message = create_message(False, PSRPMessageType.PipelineOutput, xml.encode("utf-8"), pool.runspace_pool_id,
                             pipeline.pipeline_id)
    pool._send_buffer.append(PSRPMessage(PSRPMessageType.PipelineOutput, bytearray(message),
                                         pool.runspace_pool_id, pipeline.pipeline_id, pool._fragment_counter,
                                         StreamType.default))
    return True
