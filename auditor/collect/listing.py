"""The partitioned mailbox listing: the canary pool as disjoint `Get-EXOMailbox -Filter` partitions read at once.

One `Get-EXOMailbox -ResultSize Unlimited` pipeline must be received in order, one envelope after another, so a
50,000-mailbox tenant pays ~200 round trips one after the other. Split by the last character of `Name`
(`Name -like '*0'`: a wildcard at the start of a value is documented for the Get-EXO* cmdlets'
-Filter, docs/microsoft-facts.md, "Partitioned mailbox listing"), the partitions' pages travel side by side
over the runspace pools.

Why the union is exactly the full listing:
- every character class is one literal character (digits and a-z; comparisons are case-insensitive), so two
  classes never match the same last character: the partitions are disjoint;
- the last partition is the complement, `-not (<every class>)`: whatever ends in a digit or letter of no other
  group, a symbol, a non-ASCII letter, or has no Name at all, lands there; nothing is lost;
- rows are merged by Guid, so a mailbox served twice (renamed from one partition into another while the
  partitions were read) counts once, and the count of such doubles is a run fact.
A mailbox renamed mid-run out of a partition not yet read into one already read is missed, as a single listing
misses a mailbox created behind its cursor; docs/decisions.md says why that is accepted.
The last character rather than the first: first letters of names are heavily skewed (and sequential names
such as `user00001` share them), last characters of numbered names are uniform and those of human names spread
over many letters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

CHARACTERS = "0123456789abcdefghijklmnopqrstuvwxyz"
PARTITIONS = 10  # ten classes: one digit and two or three letters each, plus the complement


def classes(count: int = PARTITIONS) -> list[str]:
    """The character classes, dealt round robin so each holds one digit when count is 10."""
    count = max(1, min(count, len(CHARACTERS)))
    return [CHARACTERS[i::count] for i in range(count)]


def _any_of(chars: str) -> str:
    return " -or ".join(f"Name -like '*{c}'" for c in chars)


def partition_filters(count: int = PARTITIONS) -> list[str]:
    """The OPATH filters, in order: one per class, then the complement of them all."""
    groups = classes(count)
    return [_any_of(g) for g in groups] + [f"-not ({_any_of(CHARACTERS)})"]


def merge(parts: Iterable[Sequence[Mapping[str, Any]]]) -> tuple[list[dict[str, Any]], int]:
    """The union of the partitions' rows, one per Guid (rows without a Guid kept as they are), and how many
    rows were doubles."""
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    doubles = 0
    for part in parts:
        for row in part:
            key = str(row.get("Guid") or "").lower()
            if key and key in seen:
                doubles += 1
                continue
            if key:
                seen.add(key)
            rows.append(dict(row))
    return rows, doubles
