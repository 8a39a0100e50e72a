"""Parsed, indexed views of snapshot sections: the machinery under Context (checks/context.py).

A tenant sweep asks about thousands of apps; a scan of a section per question is quadratic. Each index gives the
answer the scan it replaces would give (the first match, or every match in section order), and is built once
per evaluation (the snapshot does not change under it). Every view goes through `section()` first, so each
finding's provenance still names what it read and a missing section still raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from auditor.models.parsing import DataError
from auditor.models.snapshot import Section

T = TypeVar("T")


class Indexed:
    _cache: dict[str, Any]

    def section(self, name: str) -> Section:
        raise NotImplementedError

    def _parsed(self, name: str, parse: Callable[[Any], T]) -> list[T]:
        key = f"parsed:{name}"
        sec = self.section(name)
        if key not in self._cache:
            if not isinstance(sec.data, list):
                raise DataError(f"{name}: data is not a list")
            self._cache[key] = [parse(obj) for obj in sec.data]
        return self._cache[key]

    def _first(self, key: str, name: str, parse: Callable[[Any], T], keys: Callable[[T], Iterable[Any]]
               ) -> dict[Any, T]:
        """key -> the first object, in section order, that has it."""
        items = self._parsed(name, parse)
        if key not in self._cache:
            index: dict[Any, T] = {}
            for obj in items:
                for k in keys(obj):
                    index.setdefault(k, obj)
            self._cache[key] = index
        return self._cache[key]

    def _every(self, key: str, name: str, parse: Callable[[Any], T], by: Callable[[T], Any]
               ) -> dict[Any, list[tuple[int, T]]]:
        """key -> every (position, object) that has it, in section order."""
        items = self._parsed(name, parse)
        if key not in self._cache:
            index: dict[Any, list[tuple[int, T]]] = {}
            for position, obj in enumerate(items):
                index.setdefault(by(obj), []).append((position, obj))
            self._cache[key] = index
        return self._cache[key]

    @staticmethod
    def _in_order(*found: list[tuple[int, T]] | None) -> list[T]:
        """The objects of several `_every` answers, each once, in section order."""
        return [obj for _, obj in sorted({p: (p, o) for f in found for p, o in f or ()}.values(),
                                         key=lambda pair: pair[0])]

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """A value derived from the (immutable) snapshot, computed once per evaluation."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _lowered(self, sec: Section) -> tuple[set[str] | None, dict[str, str]]:
        """A section's `queried` and `item_errors`, keys lower-cased (the first spelling's error wins)."""
        key = f"lowered:{sec.name}"
        if key not in self._cache:
            errors: dict[str, str] = {}
            for item, error in sec.item_errors.items():
                errors.setdefault(item.lower(), error)
            queried = None if sec.queried is None else {q.lower() for q in sec.queried}
            self._cache[key] = (queried, errors)
        return self._cache[key]

    def _index(self, key: str, name: str, parse: Callable[[Any], T], by: Callable[[T], str]) -> dict[str, T]:
        if key not in self._cache:
            self._cache[key] = {by(obj): obj for obj in self._parsed(name, parse)}
        return self._cache[key]
