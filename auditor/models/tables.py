"""Typed, validating access to one TOML table: every error names the file, the key and the problem.

Shared by the baseline (auditor/models/baseline.py) and the portfolio file (auditor/portfolio.py).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from auditor.errors import ConfigError

Choice = TypeVar("Choice", bound=StrEnum)


class TableReader:
    """Typed access to one TOML table, with errors naming file and key."""

    def __init__(self, origin: str, prefix: str, table: Any) -> None:
        self.origin, self.prefix = origin, prefix
        if not isinstance(table, dict):
            raise self.error("", "must be a table")
        self.table = table

    def error(self, key: str, problem: str) -> ConfigError:
        where = f"{self.prefix}.{key}" if key and self.prefix else (key or self.prefix)
        return ConfigError(f"{self.origin}: {where}: {problem}")

    def only(self, keys: set[str]) -> None:
        for key in self.table:
            if key not in keys:
                raise self.error(key, f"unknown key (known keys: {', '.join(sorted(keys))})")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, required: bool = False) -> Any:
        if key not in self.table:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.table[key]
        # TOML booleans are ints in Python: reject them where a number is expected.
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.error(key, f"must be a number, not {str(value).lower()}")
        if kind is float:
            kind = (int, float)
        if not isinstance(value, kind):
            raise self.error(key, f"must be {kind_name(kind)}, not {kind_name(type(value))}")
        return value

    def text(self, key: str, default: str = "", required: bool = False) -> str:
        value = self.get(key, str, default, required)
        if required and not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def choice(self, key: str, allowed: type[Choice], default: Choice) -> Choice:
        """One member of a closed choice (a StrEnum in auditor.models), by its value."""
        value = self.text(key, default.value)
        try:
            return allowed(value)
        except ValueError:
            raise self.error(key, f"{value!r} is not one of {', '.join(m.value for m in allowed)}") from None

    def number(self, key: str, default: float, minimum: float = 0, integer: bool = True) -> Any:
        value = self.get(key, int if integer else float, default)
        if value < minimum:
            raise self.error(key, f"must be at least {minimum:g}")
        return value

    def strings(self, key: str, default: tuple[str, ...] | None = (), required: bool = False) -> Any:
        value = self.get(key, list, None, required)
        if value is None:
            return default
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.error(f"{key}[{i}]", "must be a non-empty string")
        return tuple(value)

    def flag(self, key: str, default: bool) -> bool:
        return bool(self.get(key, bool, default))


def kind_name(kind: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
             dict: "a table", date: "a date"}
    if isinstance(kind, tuple):
        return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kind))
    return names.get(kind, kind.__name__)
