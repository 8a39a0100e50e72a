"""A fast path for pypsrp's serialisation of CREATE_PIPELINE: the same bytes, without rebuilding them each time.

pypsrp 0.9 serialises a pipeline by deep-copying every command and building an ElementTree of its CLIXML
(RefIds, type-name tables, merge settings): about 25 ms of CPU for the 50 statements of one batch of
Test-ApplicationAccessPolicy, paid again for every batch, on the thread that waits for the answer. The XML
of a pipeline depends on its *shape* (the cmdlets, their parameter names, the kinds of their values, the
invocation settings) and otherwise only on the parameter values, which appear as the text of `<S>` elements.
So each shape is serialised once by pypsrp itself with placeholder values, and later pipelines of that shape
get the template with their own values escaped exactly as pypsrp escapes them. A shape this does not know
(any value other than text, a list of text, a number, a boolean or a switch; any command setting that is not
pypsrp's default) returns None, and pypsrp's own code serialises the whole message.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from pypsrp.complex_objects import CommandParameter, HostInfo
from pypsrp.messages import CreatePipeline

TEMPLATES_KEPT = 64  # shapes remembered per process (a run uses a handful)
_MARK = re.compile(rb"\xee\x80\x80(\d+)\xee\x80\x81")  # U+E000 index U+E001: untouched by CLIXML and XML escaping
_SIMPLE = (bool, int, type(None))


class _Placeholders:
    """Hands out the markers that stand for text values in a template, in order."""

    def __init__(self) -> None:
        self.count = 0

    def text(self) -> str:
        mark = f"\ue000{self.count}\ue001"
        self.count += 1
        return mark


def _value_shape(value: Any, marks: _Placeholders) -> tuple[Any, Any, list[str]] | None:
    """(the part of the shape key, the placeholder value, the texts the placeholders stand for) for one
    parameter value; None outside the fast path."""
    # ElementTree writes an empty text as an empty element (`<S N="V" />`): "" is a shape of its own
    if type(value) is str and value:
        return "S", marks.text(), [value]
    if type(value) in _SIMPLE or value == "":  # the value itself is part of the shape: few distinct ones
        return ("V", type(value).__name__, value), value, []
    if type(value) is list and all(type(item) is str for item in value):
        return (("L", tuple(bool(item) for item in value)), [marks.text() if item else "" for item in value],
                [item for item in value if item])
    return None


_COMMAND_SETTINGS = ("is_script", "use_local_scope", "merge_my_result", "merge_to_result", "merge_previous",
                     "merge_error", "merge_warning", "merge_verbose", "merge_debug", "merge_information")


def _command_key(command: Any) -> tuple[Any, ...]:
    """The command's own settings, by value (pypsrp's enum objects compare by identity, so their values)."""
    return tuple(getattr(getattr(command, name, None), "value", getattr(command, name, None))
                 for name in _COMMAND_SETTINGS)


_SHARED: dict[tuple[Any, ...], tuple[list[bytes], list[int]]] = {}
_SHARED_LOCK = threading.Lock()


class PipelineTemplates:
    """Templates of CREATE_PIPELINE messages by shape, for one pypsrp Serializer (one runspace pool). A
    template holds no value and no state of its pool (RefIds restart with every message), so the pools of a
    run share them: a shape is serialised once per process, not once per pool."""

    def __init__(self, generic: Callable[[Any], ElementTree.Element | None],
                 escape_text: Callable[[str], str | None],
                 shared: dict[tuple[Any, ...], tuple[list[bytes], list[int]]] | None = None) -> None:
        self._generic = generic  # pypsrp's serialize, for a shape seen the first time
        self._escape_text = escape_text  # pypsrp's _serialize_string: CLIXML's _xHHHH_ escapes
        self._templates = _SHARED if shared is None else shared
        self._lock = _SHARED_LOCK if shared is None else threading.Lock()

    def serialize(self, message: Any) -> bytes | None:
        """The message's XML, as pypsrp would write it; None for a message outside the fast path."""
        if type(message) is not CreatePipeline:
            return None
        shaped = self._shape(message)
        if shaped is None:
            return None
        key, placeholder, texts = shaped
        with self._lock:
            template = self._templates.get(key)
        if template is None:
            element = self._generic(placeholder)
            if element is None:
                return None
            raw = ElementTree.tostring(element, encoding="utf-8", method="xml")
            pieces = _MARK.split(raw)
            template = (pieces[0::2], [int(index) for index in pieces[1::2]])
            with self._lock:
                if len(self._templates) >= TEMPLATES_KEPT:
                    self._templates.pop(next(iter(self._templates)))
                self._templates[key] = template
        parts, order = template
        # pypsrp writes the first statement twice (Cmds, and again in ExtraCmds), so a value may appear twice;
        # a placeholder it did not write as text at all means the shape is not what this module expects
        if set(order) != set(range(len(texts))):
            return None
        out = [parts[0]]
        for index, part in zip(order, parts[1:], strict=True):
            # character data as ElementTree.tostring writes it: &, < and > escaped
            out.append(escape(self._escape_text(texts[index]) or "").encode("utf-8"))
            out.append(part)
        return b"".join(out)

    def _shape(self, message: Any) -> tuple[tuple[Any, ...], Any, list[str]] | None:
        pipeline: Any = getattr(message, "pipeline", None)
        host = getattr(message, "host_info", None)
        commands = list(getattr(pipeline, "commands", None) or [])
        if not commands or type(host) is not HostInfo or getattr(host, "host", None) is not None:
            return None
        marks = _Placeholders()
        texts: list[str] = []
        command_keys: list[tuple[Any, ...]] = []
        placeholders = []
        for position, command in enumerate(commands):
            args = list(getattr(command, "args", None) or [])
            arg_keys, new_args = [], []
            for arg in args:
                if type(arg) is not CommandParameter or type(arg.name) is not str:
                    return None
                shaped = _value_shape(arg.value, marks)
                if shaped is None:
                    return None
                arg_keys.append((arg.name, shaped[0]))
                new_args.append(CommandParameter(name=arg.name, value=shaped[1]))
                texts += shaped[2]
            end = bool(command.end_of_statement) or position == len(commands) - 1
            command_keys.append((command.cmd, getattr(command, "protocol_version", None), end,
                                 _command_key(command), tuple(arg_keys)))
            stand_in = copy.copy(command)
            stand_in.args = new_args
            stand_in.end_of_statement = end
            placeholders.append(stand_in)
        settings = (message.no_input, getattr(message.apartment_state, "value", None),
                    getattr(message.remote_stream_options, "value", None), message.add_to_history,
                    message.is_nested, pipeline.is_nested, pipeline.history, pipeline.redirect_err_to_out)
        stand_in_pipeline = copy.copy(pipeline)
        stand_in_pipeline.commands = placeholders
        stand_in_message = copy.copy(message)
        stand_in_message.pipeline = stand_in_pipeline
        return (settings, tuple(command_keys)), stand_in_message, texts

