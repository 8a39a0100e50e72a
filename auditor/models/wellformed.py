"""Text that JSON accepts and UTF-8 cannot carry.

JSON's `\\ud800` escape decodes to a lone surrogate: a Python string that no UTF-8 file, terminal or XML
document can hold. Input files are checked once at the boundary, so such a value is refused with its path
(exit 2) instead of crashing the first writer that meets it.
"""

from __future__ import annotations

from typing import Any


def lone_surrogate_at(doc: Any, root: str = "") -> str | None:
    """The path (`graph.users[3].displayName`) of a string or key holding a lone surrogate, else None.

    Iterative, so a deeply nested document cannot exhaust the stack here."""
    stack: list[tuple[str, Any]] = [(root, doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _has_surrogate(value):
                return path or "(top level)"
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _has_surrogate(key):
                    return child
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
