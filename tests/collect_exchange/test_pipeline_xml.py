"""The commands the auditor sends over PSRP are the bytes pypsrp itself would send, from a template per shape."""

from __future__ import annotations

import uuid
from typing import Any
from xml.etree import ElementTree

from hypothesis import given, settings
from hypothesis import strategies as st
from pypsrp.complex_objects import (
    ApartmentState,
    Command,
    CommandParameter,
    HostInfo,
    Pipeline,
    PipelineResultTypes,
    RemoteStreamOptions,
)
from pypsrp.messages import CreatePipeline
from pypsrp.serializer import Serializer

from auditor.collect.clixml import OutputSerializer
from auditor.collect.pipeline_xml import PipelineTemplates


def message(statements: list[tuple[str, list[tuple[str, Any]]]], *, nested: bool = False,
            history: str = "") -> CreatePipeline:
    """What pypsrp's PowerShell.begin_invoke builds for these statements (PowerShell._invoke, add_statement)."""
    commands = []
    for name, params in statements:
        command = Command(cmd=name, protocol_version="2.3")
        for key, value in params:
            command.args.append(CommandParameter(name=key, value=value))
        command.end_of_statement = True
        commands.append(command)
    pipeline = Pipeline(is_nested=nested, cmds=commands, history=history, redirect_err_to_out=False)
    return CreatePipeline(True, ApartmentState(value=2), RemoteStreamOptions(value=15), False,
                          HostInfo(host=None), pipeline, nested)


def generic(msg: CreatePipeline) -> bytes:
    element = Serializer().serialize(msg)
    assert element is not None
    return ElementTree.tostring(element, encoding="utf-8", method="xml")


def fast(serializer: OutputSerializer, msg: CreatePipeline) -> bytes:
    out = serializer.serialize(msg)
    assert isinstance(out, bytes), "the fast path should take this shape"
    return out


TEXT = st.text(max_size=40)
VALUES = st.one_of(TEXT, st.none(), st.booleans(), st.integers(-5, 5000), st.lists(TEXT, max_size=4))
PARAMS = st.lists(st.tuples(st.sampled_from(["Identity", "AppId", "ResultSize", "Filter", "Properties",
                                             "PropertySets", "ErrorAction"]), VALUES), max_size=4)
STATEMENTS = st.lists(st.tuples(st.sampled_from(["Get-Mailbox", "Test-ApplicationAccessPolicy", "Get-Recipient",
                                                 "Get-EXOMailbox"]), PARAMS), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(STATEMENTS, st.booleans())
def test_any_pipeline_of_text_lists_numbers_and_switches_is_sent_as_pypsrp_would_send_it(statements, nested):
    serializer = OutputSerializer()
    msg = message(statements, nested=nested)
    assert fast(serializer, msg) == generic(message(statements, nested=nested))


def test_a_second_pipeline_of_the_same_shape_gets_its_own_values_escaped_as_pypsrp_escapes_them():
    calls: list[object] = []

    def counting(msg: object) -> object:
        calls.append(msg)
        return Serializer().serialize(msg)

    templates = PipelineTemplates(counting, Serializer()._serialize_string, shared={})
    first = [("Test-ApplicationAccessPolicy", [("Identity", f"q{i}@contoso.com"), ("AppId", str(uuid.uuid4()))])
             for i in range(50)]
    hostile = [("Test-ApplicationAccessPolicy", [("Identity", f"<x>&'\"\x07_x0041_\U0001F600{i}"),
                                                 ("AppId", "]]>&amp;")]) for i in range(50)]
    assert templates.serialize(message(first)) == generic(message(first))
    assert templates.serialize(message(hostile)) == generic(message(hostile))
    assert len(calls) == 1  # one shape: the second message came from the template
    assert templates.serialize(message(first[:3])) == generic(message(first[:3]))
    assert len(calls) == 2  # three statements are another shape


def test_shapes_outside_the_fast_path_are_left_to_pypsrp():
    serializer = OutputSerializer()
    odd = message([("Get-Mailbox", [("Identity", {"a": 1})])])
    assert serializer._pipelines.serialize(odd) is None
    merged = message([("Get-Mailbox", [("Identity", "a")])])
    merged.pipeline.commands[0].merge_error = PipelineResultTypes(value=PipelineResultTypes.OUTPUT)
    templates = PipelineTemplates(lambda m: Serializer().serialize(m), Serializer()._serialize_string)
    assert templates.serialize(merged) == generic(merged)  # a command setting is part of the shape
    hosted = message([("Get-Mailbox", [])])
    hosted.host_info = HostInfo(host=object())
    assert serializer._pipelines.serialize(hosted) is None
    assert serializer._pipelines.serialize("not a pipeline") is None


def test_the_template_does_not_change_the_commands_it_was_given():
    msg = message([("Get-Mailbox", [("Identity", "a")]), ("Get-Mailbox", [("Identity", "b")])])
    msg.pipeline.commands[0].end_of_statement = False  # two commands of one statement, piped
    before = [(c.cmd, c.end_of_statement, [(a.name, a.value) for a in c.args]) for c in msg.pipeline.commands]
    copy = message([("Get-Mailbox", [("Identity", "a")]), ("Get-Mailbox", [("Identity", "b")])])
    copy.pipeline.commands[0].end_of_statement = False
    assert OutputSerializer().serialize(msg) == generic(copy)
    assert [(c.cmd, c.end_of_statement, [(a.name, a.value) for a in c.args]) for c in msg.pipeline.commands] == before
