"""Received fragments reassembled by the fast path are the messages pypsrp's own Fragmenter gives."""

from __future__ import annotations

import itertools
import struct
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypsrp.exceptions import FragmentError
from pypsrp.powershell import Fragmenter

from auditor.collect.clixml import OutputSerializer
from auditor.collect.fragments import defragment
from auditor.collect.shell import plain_row
from auditor.emulator.exchange.psrp_session import to_psobject
from tests.collect_exchange.test_clixml import wire
from tests.emulator_exchange.helpers import demo_cmdlet_records

POOL, PIPE = uuid.uuid4(), uuid.uuid4()
STATE = '<Obj RefId="0"><MS><I32 N="PipelineState">4</I32></MS></Obj>'


def message(kind: int, body: str, bom: bool = False) -> bytes:
    """One PSRP message as a server sends it ([MS-PSRP] 2.2.1): destination client (1), type, ids, body."""
    return (struct.pack("<II", 1, kind) + POOL.bytes_le + PIPE.bytes_le + (b"\xef\xbb\xbf" if bom else b"")
            + body.encode("utf-8"))


def fragments(messages: list[bytes], size: int, interleave: bool) -> list[bytes]:
    """Each message cut into fragments of at most `size` bytes ([MS-PSRP] 2.2.4), optionally interleaved."""
    per_object = []
    for object_id, data in enumerate(messages, start=1):
        pieces = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
        per_object.append([struct.pack(">QQBI", object_id, n, (n == 0) | ((n == len(pieces) - 1) << 1), len(p)) + p
                           for n, p in enumerate(pieces)])
    if not interleave:
        return [f for frags in per_object for f in frags]
    out, queues = [], [list(f) for f in per_object]
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def summary(msgs: list[Any]) -> list[tuple[Any, ...]]:
    def data(m: Any) -> Any:
        value = getattr(m.data, "data", m.data)
        return plain_row(value) if m.message_type == 0x00041004 else type(m.data).__name__
    return [(m.destination, m.message_type, m.rpid, m.pid, data(m)) for m in msgs]


OUTPUTS = [wire(to_psobject(record)) for record in demo_cmdlet_records()[:40]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(range(len(OUTPUTS))), min_size=1, max_size=12), st.integers(30, 4000),
       st.booleans(), st.integers(1, 4), st.booleans())
def test_reassembled_messages_are_pypsrps(picks, size, interleave, receives, bom):
    msgs = [message(0x00041004, OUTPUTS[i], bom=bom and n % 2 == 0) for n, i in enumerate(picks)]
    msgs.append(message(0x00041006, STATE))  # PIPELINE_STATE: pypsrp's own path
    slow, fast = Fragmenter(32768, OutputSerializer()), Fragmenter(32768, OutputSerializer())
    ids: dict[bytes, uuid.UUID] = {}
    frags = fragments(msgs, size, interleave)
    # a Receive carries whole fragments: split the fragment list, not the bytes
    bounds = sorted({len(frags) * k // receives for k in range(receives + 1)})
    got_slow, got_fast = [], []
    for a, b in itertools.pairwise(bounds):
        payload = b"".join(frags[a:b])
        got_slow += slow.defragment(payload)
        got_fast += defragment(fast, payload, ids)
    assert summary(got_fast) == summary(got_slow)
    assert slow.incoming_buffer == fast.incoming_buffer == {}


def test_a_fragment_out_of_order_is_refused_as_pypsrp_refuses_it():
    frags = fragments([message(0x00041004, OUTPUTS[0])], 50, False)
    swapped = frags[1] + frags[0]
    with pytest.raises(FragmentError):
        Fragmenter(32768, OutputSerializer()).defragment(swapped)
    with pytest.raises(FragmentError):
        defragment(Fragmenter(32768, OutputSerializer()), swapped, {})
