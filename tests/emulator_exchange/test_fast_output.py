"""The emulator's fast CLIXML for output records is byte for byte what psrpcore writes for the same object."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from hypothesis import given, settings
from hypothesis import strategies as st
from psrpcore._base import serialize

from auditor.emulator.exchange.fast_output import record_xml
from auditor.emulator.exchange.model import Record
from auditor.emulator.exchange.psrp_session import to_psobject
from tests.emulator_exchange.helpers import demo_cmdlet_records


def psrpcore_xml(record: Record) -> str:
    return ElementTree.tostring(serialize(to_psobject(record), None), encoding="utf-8").decode("utf-8")


def test_every_record_the_demo_tenant_yields_is_written_as_psrpcore_writes_it():
    records = demo_cmdlet_records()
    assert len(records) > 60
    for record in records:
        assert record_xml(record) == psrpcore_xml(record)


values = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.uuids(), st.text(max_size=12),
                   st.lists(st.text(max_size=6), max_size=3))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6), values, max_size=6), st.text(max_size=10),
       st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=3))
def test_random_records_are_written_as_psrpcore_writes_them(properties: dict[str, Any], to_string: str,
                                                            type_names: list[str]):
    record = Record(tuple(type_names), properties, to_string)
    fast = record_xml(record)
    if fast is not None:
        assert fast == psrpcore_xml(record)


def test_values_outside_the_simple_shapes_are_left_to_psrpcore():
    assert record_xml(Record(("T",), {"When": 1.5}, "x")) is None
    assert record_xml(Record(("T",), {"Nested": [1, 2]}, "x")) is None
    assert record_xml(Record((), {"A": "b"}, "x")) is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="_xX0Aa \t\n\x7f\x85\u2028\U0001F600&<>\"'", max_size=16))
def test_strings_needing_escapes_are_written_as_psrpcore_writes_them(text: str):
    types = ("Deserialized.Microsoft.Exchange.X", "Deserialized.System.Object")
    record = Record(types, {"Name": text, text or "N": [text]}, text)
    assert record_xml(record) == psrpcore_xml(record)
