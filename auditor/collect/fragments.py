"""A fast path for pypsrp's reassembly of received PSRP fragments: the same messages, linear in the bytes.

pypsrp 0.9's `Fragmenter.defragment` cuts each fragment off the front of the Receive's payload by slicing the
rest (a copy of everything after it, for each of the ~250 fragments of a 500 KiB Receive), and `Message.unpack`
builds five UUIDs, a 30-entry type table and an eager debug string for every message. For the 50,000 output
objects of a mailbox listing that was about a second of CPU on the thread that waits for the next Receive.
`defragment` below walks the payload by offset ([MS-PSRP] 2.2.4: object id, fragment id, start/end flags,
length, data), keeps pypsrp's per-object buffers and its fragment-id check, and builds PIPELINE_OUTPUT messages
directly (their pool and pipeline ids cached); every other message type goes through `Message.unpack`
unchanged, and so does an output object pypsrp's serialiser refuses.
"""

from __future__ import annotations

import struct
import uuid
from typing import Any

from pypsrp.exceptions import FragmentError, SerializationError
from pypsrp.messages import Message, MessageType, PipelineOutput

_HEADER = struct.Struct(">QQBI")  # object id, fragment id, start (0x1) / end (0x2) flags, data length
_MESSAGE = struct.Struct("<II")  # destination, message type; then the pool and pipeline ids (16 bytes each)
_BOM = b"\xef\xbb\xbf"


def install(pool: Any) -> bool:
    """Give a pypsrp RunspacePool's fragmenter this reassembly; False (nothing changed) when it does not look
    like pypsrp 0.9's (`_fragmenter` with `incoming_buffer` and `serializer`)."""
    fragmenter = getattr(pool, "_fragmenter", None)
    if fragmenter is None or not isinstance(getattr(fragmenter, "incoming_buffer", None), dict) \
            or not hasattr(fragmenter, "serializer"):
        return False
    ids: dict[bytes, uuid.UUID] = {}
    fragmenter.defragment = lambda data: defragment(fragmenter, data, ids)
    return True


def defragment(fragmenter: Any, data: bytes, ids: dict[bytes, uuid.UUID]) -> list[Message]:
    """What `fragmenter.defragment(data)` returns, without its quadratic copying."""
    complete: list[bytes] = []
    buffers: dict[int, dict[str, Any]] = fragmenter.incoming_buffer
    view, offset, size = memoryview(data), 0, len(data)
    while offset < size:
        if size - offset < _HEADER.size:
            raise FragmentError("a PSRP fragment header is cut short")
        object_id, fragment_id, flags, length = _HEADER.unpack_from(data, offset)
        offset += _HEADER.size
        chunk = bytes(view[offset:offset + length])
        offset += length
        buffer = buffers.get(object_id)
        if buffer is None:
            buffer = buffers[object_id] = {"data": b"", "id": 0}
        if fragment_id != buffer["id"]:
            raise FragmentError(f"Fragment Fragment Id: {fragment_id} != Expected Fragment Id: {buffer['id']}")
        start, end = bool(flags & 0x1), bool(flags & 0x2)
        if start and end:
            complete.append(chunk)
            del buffers[object_id]
        elif start:
            buffer["data"] = chunk
            buffer["id"] += 1
        elif end:
            complete.append(buffer["data"] + chunk)
            del buffers[object_id]
        else:
            buffer["data"] += chunk
            buffer["id"] += 1
    return [_message(fragmenter.serializer, raw, ids) for raw in complete]


def _message(serializer: Any, raw: bytes, ids: dict[bytes, uuid.UUID]) -> Message:
    if len(raw) < 40:
        return Message.unpack(raw, serializer)
    destination, message_type = _MESSAGE.unpack_from(raw, 0)
    if message_type != MessageType.PIPELINE_OUTPUT:
        return Message.unpack(raw, serializer)
    body = raw[43:] if raw[40:43] == _BOM else raw[40:]
    try:
        value = serializer.deserialize(body.decode("utf-8"))
    except SerializationError:  # pypsrp's own path warns and retries as a generic object
        return Message.unpack(raw, serializer)
    output = PipelineOutput()
    output.data = value
    message = Message.__new__(Message)
    message.destination = destination
    message.message_type = message_type
    message.rpid = _id(raw[8:24], ids)
    message.pid = _id(raw[24:40], ids)
    message.data = output
    message._serializer = serializer
    return message


def _id(raw: bytes, ids: dict[bytes, uuid.UUID]) -> uuid.UUID:
    found = ids.get(raw)
    if found is None:
        if len(ids) > 1024:  # pipelines come and go; the pool's id stays
            ids.clear()
        found = ids[raw] = uuid.UUID(bytes_le=raw)
    return found
