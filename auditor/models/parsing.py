"""Strict readers for Microsoft-shaped objects: a missing or mistyped property is a DataError, never a default."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from auditor.models.timeutil import parse_datetime


class DataError(Exception):
    """A value a check needs is missing or malformed in the snapshot; the engine reports ERROR with this text."""


def field(obj: Any, key: str, kind: type | tuple[type, ...], where: str, nullable: bool = False) -> Any:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected an object, found {type(obj).__name__}")
    if key not in obj:
        raise DataError(f"{where}: property {key} is missing")
    value = obj[key]
    if value is None:
        if nullable:
            return None
        raise DataError(f"{where}: property {key} is null")
    if kind is bool and not isinstance(value, bool):
        raise DataError(f"{where}: property {key} is not true/false ({value!r})")
    if not isinstance(value, kind):
        raise DataError(f"{where}: property {key} has the wrong type ({type(value).__name__})")
    return value


def text(obj: Any, key: str, where: str, nullable: bool = False) -> Any:
    return field(obj, key, str, where, nullable)


def guid(obj: Any, key: str, where: str, nullable: bool = False) -> Any:
    """GUIDs are compared as lower-case strings (PSRP gives uuid.UUID, REST and Graph give strings)."""
    value = field(obj, key, str, where, nullable)
    return value.lower() if isinstance(value, str) else value


def when(obj: Any, key: str, where: str) -> datetime:
    value = field(obj, key, str, where)
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise DataError(f"{where}: property {key}: {exc}") from None


def items(obj: Any, key: str, where: str) -> list[Any]:
    return list(field(obj, key, list, where))


def strings(value: Any, where: str) -> tuple[str, ...]:
    """Exchange multi-valued properties: a list of strings, or one string, or null (none)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v)
    raise DataError(f"{where}: expected a list of strings, found {value!r}")
