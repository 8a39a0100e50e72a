"""The fast pipeline-output deserialiser gives exactly what pypsrp's own gives, for every cmdlet's output."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psrpcore._base import serialize
from psrpcore.types import ErrorCategory, ErrorCategoryInfo, ErrorRecord, NETException
from pypsrp.complex_objects import GenericComplexObject
from pypsrp.serializer import Serializer

from auditor.collect.clixml import Deferred, OutputSerializer, UnreadableOutput, deferred, install, resolve
from auditor.collect.shell import plain_row
from auditor.demo import DEMO_TENANT
from auditor.emulator.exchange.cmdlets import ExchangeCmdlets
from auditor.emulator.exchange.model import Record
from auditor.emulator.exchange.psrp_session import to_psobject
from auditor.emulator.tenant import load_tenant
from tests.emulator_exchange.helpers import demo_cmdlet_records


def wire(obj: Any) -> str:
    """The PIPELINE_OUTPUT text the emulator sends for one object (psrpcore's serialisation)."""
    return ElementTree.tostring(serialize(obj, None), encoding="utf-8").decode("utf-8")


def both(text: str) -> tuple[Any, Any]:
    return Serializer().deserialize(text), OutputSerializer().deserialize(text)


def same(text: str) -> None:
    slow, fast = both(text)
    assert plain_row(fast) == plain_row(slow)
    assert type(fast) is type(slow)
    if isinstance(slow, GenericComplexObject):
        assert (fast.types, fast.to_string, fast.property_sets) == (slow.types, slow.to_string, slow.property_sets)


def test_every_cmdlet_output_of_the_demo_tenant_deserialises_as_pypsrp_does():
    records = demo_cmdlet_records()
    for record in records:
        text = wire(to_psobject(record))
        same(text)
        assert plain_row(OutputSerializer()._output(text)) == plain_row(Serializer().deserialize(text))
    assert len(records) > 60


def test_group_lists_become_python_lists():
    record = Record(("Deserialized.Microsoft.Exchange.Data.Directory.Management.DistributionGroup",
                     "Deserialized.System.Object"), {"ManagedBy": ["a", "b"], "Name": "g"}, "g")
    fast = OutputSerializer().deserialize(wire(to_psobject(record)))
    assert plain_row(fast) == {"ManagedBy": ["a", "b"], "Name": "g"}


def test_shapes_outside_the_fast_path_are_left_to_pypsrp():
    error = ErrorRecord(Exception=NETException(Message="boom"), CategoryInfo=ErrorCategoryInfo(
        Category=ErrorCategory.NotSpecified), TargetObject="x", FullyQualifiedErrorId="Boom")
    same(wire(error))  # a known .NET type: pypsrp builds its own class for it
    same(wire("just a string"))
    same(wire(7))


values = st.one_of(st.none(), st.booleans(), st.integers(-2**31, 2**31 - 1), st.uuids(), st.text(max_size=12),
                   st.lists(st.text(max_size=6), max_size=3))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.from_regex(r"[A-Z][A-Za-z0-9]{0,8}", fullmatch=True), values, max_size=6),
       st.text(max_size=10),
       st.sampled_from([("Deserialized.Microsoft.Exchange.X", "Deserialized.System.Object"),
                        ("Deserialized.Microsoft.Exchange.Y[]", "Deserialized.System.Object"),
                        ("Deserialized.System.Collections.ArrayList", "Deserialized.System.Object"),
                        ("Deserialized.System.Object",), ("System.Management.Automation.PSCustomObject",
                                                           "System.Object")]))
def test_random_records_deserialise_as_pypsrp_does(properties, to_string, type_names):
    same(wire(to_psobject(Record(type_names, properties, to_string))))


def test_install_replaces_the_serialiser_of_a_pool_only_when_it_looks_like_pypsrp_09():
    class Fragmenter:
        serializer = Serializer()

    class Pool:
        _serializer = Fragmenter.serializer
        _fragmenter = Fragmenter()

    pool = Pool()
    assert install(pool)
    assert isinstance(pool._serializer, OutputSerializer) and pool._fragmenter.serializer is pool._serializer
    assert not install(object())


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="_xX0A9Dab\n\u2028\U0001F600", max_size=16))
def test_escaped_strings_decode_as_pypsrp_decodes_them(text):
    record = Record(("Deserialized.Microsoft.Exchange.X", "Deserialized.System.Object"), {"Name": text}, text)
    payload = wire(to_psobject(record))
    try:
        Serializer().deserialize(payload)
    except ValueError as exc:  # psrpcore leaves ToString unescaped: pypsrp then chokes on "_x000X_", and so must we
        with pytest.raises(type(exc)):
            OutputSerializer().deserialize(payload)
    else:
        same(payload)


def test_deferred_parsing_gives_the_same_objects_in_the_same_order():
    tenant = load_tenant(DEMO_TENANT)
    records = ExchangeCmdlets(tenant.id, tenant.doc, tenant.now).invoke("Get-Mailbox", [("ResultSize", "Unlimited")])
    texts = [wire(to_psobject(r)) for r in records.records] + [wire("just a string"), wire(7)]

    class Pool:
        _serializer = OutputSerializer()

    pool = Pool()
    with deferred(pool, plain_row):
        pending = [pool._serializer.deserialize(t) for t in texts]
        assert all(isinstance(p, Deferred) for p in pending)
    parsed = [resolve(p, plain_row) for p in pending]
    assert pool._serializer.defer is None
    assert parsed == [plain_row(Serializer().deserialize(t)) for t in texts]
    assert resolve("as is", plain_row) == {"Value": "as is"}


@pytest.mark.parametrize("text", ["<Obj RefId='0'><MS><S N='Name'>x</S>", "not xml at all", "<Obj>&undefined;</Obj>",
                                  '<!DOCTYPE o [<!ENTITY e SYSTEM "file:///etc/passwd">]><Obj>&e;</Obj>'],
                         ids=["truncated", "text", "undefined-entity", "external-entity"])
def test_output_that_is_not_clixml_fails_the_read_instead_of_becoming_a_value_row(text: str) -> None:
    """pypsrp hands unparsable output back as its raw text, which would become a {"Value": "<raw xml>"} row:
    a hostile host could plant rows. The read fails instead (the shell turns it into a section ERROR)."""
    with pytest.raises(UnreadableOutput, match="not CLIXML"):
        OutputSerializer().deserialize(text)
