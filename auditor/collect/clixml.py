"""A fast path for pypsrp's deserialisation of pipeline output: the same objects, a fraction of the time (and,
through pipeline_xml.py, for the serialisation of the commands sent).

pypsrp 0.9 deserialises every CLIXML element by serialising it back to text first (for a log line), and
rebuilds its type tables on every call; a `Get-Mailbox -ResultSize Unlimited` over 50,000 mailboxes then
costs over a minute of CPU before the auditor sees a row. `OutputSerializer.deserialize` takes the
PIPELINE_OUTPUT messages whose shape it knows (the deserialised Exchange objects: type names, adapted and
extended properties of primitive values, string lists) and builds exactly what pypsrp would build from
them: a GenericComplexObject with the same properties, types and ToString. Any other shape, and every other
message (errors, states, host calls, key exchange), goes to pypsrp's own code unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from xml.etree import ElementTree

from pypsrp.complex_objects import GenericComplexObject, ObjectMeta
from pypsrp.exceptions import SerializationError
from pypsrp.serializer import Serializer

from auditor.collect.pipeline_xml import PipelineTemplates

log = logging.getLogger(__name__)


class Unsupported(Exception):
    """A shape outside the fast path: pypsrp's own deserialiser handles the whole message."""


# Terminal type names that make pypsrp build a GenericComplexObject (its "System.Object" fallback); list types
# it builds as Python lists. Only these are taken here: anything pypsrp maps to another class is left to it.
DYNAMIC = frozenset({"System.Object", "Deserialized.System.Object"})
LISTS = frozenset({"System.Collections.ArrayList", "Deserialized.System.Collections.ArrayList"})


def _int(element: ElementTree.Element) -> int:
    return int(element.text)  # type: ignore[arg-type]  # pypsrp raises for an empty number too


class OutputSerializer(Serializer):
    """pypsrp's Serializer with a fast path for PIPELINE_OUTPUT objects (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._pipelines = PipelineTemplates(lambda message: super(OutputSerializer, self).serialize(message),
                                            self._serialize_string)
        # pypsrp's primitive conversions, tag by tag (serializer.Serializer.deserialize's table).
        self._primitives: dict[str, Callable[[ElementTree.Element], Any]] = {
            "S": lambda e: self._deserialize_string(e.text), "B": lambda e: (e.text or "").lower() == "true",
            "DT": lambda e: e.text, "TS": lambda e: e.text, "By": _int, "SB": _int, "U16": _int, "I16": _int,
            "U32": _int, "I32": _int, "U64": _int, "I64": _int, "Sg": lambda e: float(e.text),  # type: ignore[arg-type]
            "Db": lambda e: float(e.text), "G": lambda e: uuid.UUID(e.text),  # type: ignore[arg-type]
            "URI": lambda e: self._deserialize_string(e.text), "Nil": lambda e: None, "Version": lambda e: e.text,
        }

    def serialize(self, value: Any, metadata: Any = None, parent: Any = None, clear: bool = True) -> Any:
        # A whole CREATE_PIPELINE message (pypsrp's Message.pack sends bytes as they are): from its template.
        if metadata is None and parent is None and clear:
            fast = self._pipelines.serialize(value)
            if fast is not None:
                return fast
        return super().serialize(value, metadata, parent, clear)

    def _deserialize_string(self, value: str | None) -> str:
        # pypsrp decodes `_xHHHH_` escapes through a UTF-16 round trip; without one the text is the value.
        if value is not None and "_x" not in value:
            return value
        return super()._deserialize_string(value)

    def deserialize(self, element: Any, metadata: Any = None, clear: bool = True) -> Any:
        # pypsrp passes PIPELINE_OUTPUT as text without metadata; everything else takes its own path.
        if metadata is None and clear and isinstance(element, str):
            if self.defer is not None:
                return self.defer.add(element)
            return self._pipeline_output(element, None)
        return super().deserialize(element, metadata, clear)

    defer: _Worker | None = None
    """While set, output objects are parsed (and finished) there, overlapping the next Receive's wait."""

    def _pipeline_output(self, text: str, fallback: Callable[[], Serializer] | None) -> Any:
        """The object: by the fast path, else by pypsrp's deserialiser (`fallback`: another thread's instance)."""
        try:
            return self._output(text)
        except ElementTree.ParseError as exc:  # pypsrp would hand the raw text back as if it were a value
            raise UnreadableOutput(f"an output object is not CLIXML ({exc})") from None
        except (Unsupported, ValueError, TypeError, KeyError, AttributeError):
            log.debug("pipeline output outside the fast path; using pypsrp's deserialiser")
        if fallback is None:
            return super().deserialize(text)
        try:  # what pypsrp's Message.unpack does with PIPELINE_OUTPUT
            return fallback().deserialize(text)
        except SerializationError as err:
            warnings.warn(f"Failed to deserialize msg, trying to deserialize as generic complex object: {err}",
                          stacklevel=2)
            return fallback().deserialize(text, ObjectMeta("ObjDynamic", object=GenericComplexObject))

    def output_object(self, text: str) -> GenericComplexObject | None:
        """One PIPELINE_OUTPUT object by the fast path (what pypsrp would build), or None outside it. The local
        transport uses it on psrpcore's messages so both PowerShell transports read output identically."""
        try:
            return self._output(text)
        except (Unsupported, ElementTree.ParseError, ValueError, TypeError, KeyError, AttributeError):
            return None

    def _output(self, text: str) -> Any:
        root = ElementTree.fromstring(text)
        if root.tag != "Obj":
            raise Unsupported(root.tag)
        obj = self._object(root, {})
        obj._xml = text
        return obj

    def _types(self, element: ElementTree.Element, type_names: dict[str, list[str]]) -> list[str]:
        for child in element:
            if child.tag == "TN":
                names = [t.text or "" for t in child]
                type_names[child.attrib["RefId"]] = names
                return names
            if child.tag == "TNRef":
                return type_names[child.attrib["RefId"]]
        raise Unsupported("an object without type names")

    def _object(self, element: ElementTree.Element, type_names: dict[str, list[str]]) -> GenericComplexObject:
        types = self._types(element, type_names)
        # pypsrp takes the first type name it knows; Exchange's own (Deserialized.Microsoft.*) it does not know,
        # so the first known one must be the System.Object fallback.
        for name in types:
            if name in DYNAMIC:
                break
            if not name.startswith("Deserialized.Microsoft.") or "[" in name or "`" in name:
                raise Unsupported(name)
        else:
            raise Unsupported("no System.Object type name")
        obj = GenericComplexObject()
        obj.types = list(types)
        for child in element:
            tag = child.tag
            if tag == "Props":
                obj.adapted_properties.update(self._properties(child, type_names))
            elif tag == "MS":
                obj.extended_properties.update(self._properties(child, type_names))
            elif tag == "ToString":
                obj.to_string = self._deserialize_string(child.text)
            elif tag not in ("TN", "TNRef"):
                raise Unsupported(tag)
        return obj

    def _properties(self, element: ElementTree.Element, type_names: dict[str, list[str]]) -> dict[str, Any]:
        return {child.attrib["N"]: self._value(child, type_names) for child in element}

    def _value(self, element: ElementTree.Element, type_names: dict[str, list[str]]) -> Any:
        if element.tag == "S":  # most properties: text without `_xHHHH_` escapes is the value itself
            text = element.text
            return "" if text is None else text if "_x" not in text else self._deserialize_string(text)
        convert = self._primitives.get(element.tag)
        if convert is not None:
            return convert(element)
        if element.tag != "Obj":
            raise Unsupported(element.tag)
        types = self._types(element, type_names)
        if not types or types[0] not in LISTS:
            raise Unsupported(types[0] if types else "untyped")
        items: list[Any] | None = None
        for child in element:
            if child.tag == "LST":
                items = [self._primitive(item) for item in child]
            elif child.tag not in ("TN", "TNRef"):
                raise Unsupported(child.tag)
        return items if items is not None else []

    def _primitive(self, element: ElementTree.Element) -> Any:
        convert = self._primitives.get(element.tag)
        if convert is None:
            raise Unsupported(element.tag)
        return convert(element)


def install(pool: Any) -> bool:
    """Give a pypsrp RunspacePool (not yet opened) the fast deserialiser; False when its internals differ
    from pypsrp 0.9's (`_serializer`, `_fragmenter.serializer`), in which case nothing is changed."""
    fragmenter = getattr(pool, "_fragmenter", None)
    if not isinstance(getattr(pool, "_serializer", None), Serializer) or not isinstance(
            getattr(fragmenter, "serializer", None), Serializer):
        return False
    serializer = OutputSerializer()
    pool._serializer = serializer
    fragmenter.serializer = serializer  # type: ignore[union-attr]
    return True


class Deferred:
    """An output object handed to the worker; `resolve` gives what became of it."""

    __slots__ = ("error", "text", "value")

    def __init__(self, text: str) -> None:
        self.text: str | None = text
        self.value: Any = None
        self.error: BaseException | None = None


class UnreadableOutput(ValueError):
    """A PIPELINE_OUTPUT message that is not XML: the read fails (an ERROR), it never becomes a row."""


class _Worker:
    """One thread parsing deferred output objects in arrival order. A simple queue and plain slots cost the
    receiving thread far less per object than futures would (50,000 objects for a mailbox listing)."""

    def __init__(self, serializer: OutputSerializer, finish: Callable[[Any], Any]) -> None:
        self.serializer, self.finish = serializer, finish
        self.queue: queue.SimpleQueue[Deferred | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="psrp-output", daemon=True)
        self._fallback: Serializer | None = None
        self.thread.start()

    def add(self, text: str) -> Deferred:
        item = Deferred(text)
        self.queue.put(item)
        return item

    def fallback(self) -> Serializer:
        """pypsrp's deserialiser for this thread: its state is per message but for the session key."""
        if self._fallback is None:
            self._fallback = Serializer()
            self._fallback.cipher = self.serializer.cipher
        return self._fallback

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            try:
                item.value = self.finish(self.serializer._pipeline_output(item.text or "", self.fallback))
            except BaseException as exc:  # re-raised by resolve, in the thread that reads the output
                item.error = exc
            item.text = None

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join()


def resolve(obj: Any, finish: Callable[[Any], Any]) -> Any:
    """`finish(the parsed object)`: computed by the worker for a deferred object (call after `deferred` has
    ended), here for any other."""
    if not isinstance(obj, Deferred):
        return finish(obj)
    if obj.error is not None:
        raise obj.error
    if obj.text is not None:
        raise RuntimeError("a deferred output object was read before its parsing ended")
    return obj.value


@contextlib.contextmanager
def deferred(pool: Any, finish: Callable[[Any], Any]) -> Iterator[None]:
    """Within: output objects of `pool` (a RunspacePool given `install`) are parsed, and passed to `finish`, on a
    worker thread while the receiving thread waits for the next Receive. On leaving, every object is done:
    `resolve` each one of the output then."""
    serializer = getattr(pool, "_serializer", None)
    if not isinstance(serializer, OutputSerializer):
        yield
        return
    worker = _Worker(serializer, finish)
    serializer.defer = worker
    try:
        yield
    finally:
        serializer.defer = None
        worker.stop()
