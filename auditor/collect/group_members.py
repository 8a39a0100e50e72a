"""Members of many groups in few pipelines, although Get-DistributionGroupMember's rows do not name the group.

A pipeline of several statements returns their output objects one statement after the other, in the order
the statements were given (each statement runs to its end before the next starts). So a batch sends, for each
group, `Get-DistributionGroupMember -Identity <Guid>` (its members) followed by `Get-DistributionGroup
-Identity <Guid>` (one row, the group itself: a marker that closes the group's members). The rows then read:
members of the first group, its marker, members of the second group, its marker, and so on.

A member row can look like a marker: a group of the batch that is nested in another of the batch has the same
Guid in both places, and whether Exchange lets a group hold itself is not documented. So a batch is split only
when each of its groups' Guids occurs exactly once in its rows, as the last row of the group's own part, the
markers in the order asked. When some Guid occurs twice, the groups whose Guid occurred once are batched again
on their own and the others read one pipeline each; anything else (a Guid missing, an error or a truncation
warning anywhere in the batch, a failed pipeline) and the batch's groups are read again one pipeline each, so
a group's members are never guessed. Over PSRP this turns ~130 pipelines (two round trips each) into a handful for the
10,000-app sweep (docs/decisions.md, "Batched group members").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from auditor.collect.shell import Command, Output, ShellPool, one_line
from auditor.errors import CollectionError

GROUPS_PER_PIPELINE = 25  # two statements per group: 50 statements, as the batched look-ups


@dataclass(frozen=True)
class Members:
    """One group's member rows, or why they were not read: `problem` is the cmdlet's error or truncation
    warning; `failure` the transport's or pipeline's one-line failure."""

    rows: list[dict[str, Any]]
    problem: str | None = None
    failure: str | None = None


def member_command(identity: str) -> Command:
    return Command("Get-DistributionGroupMember", {"Identity": identity, "ResultSize": "Unlimited"})


def read_one(pool: ShellPool, identity: str) -> Members:
    """One group's members in a pipeline of its own."""
    try:
        out = pool.run([member_command(identity)])
    except CollectionError as exc:
        return Members([], failure=one_line(str(exc)))
    problem = out.incomplete
    return Members([], problem=problem) if problem else Members(out.rows)


def read_members(pool: ShellPool, identities: Sequence[str], per_pipeline: int = GROUPS_PER_PIPELINE
                 ) -> list[Members]:
    """Each group's members (identities: the groups' Guids), in order; batches spread over the shells. Where
    each statement is a request of its own (REST), a marker would only add requests: one pipeline per group."""
    if not pool.statements_share_a_request:
        return _one_by_one(pool, list(identities))
    chunks = [list(identities[i:i + per_pipeline]) for i in range(0, len(identities), max(1, per_pipeline))]
    return [m for part in pool.map(lambda chunk: _read_chunk(pool, chunk), chunks) for m in part]


def _read_chunk(pool: ShellPool, chunk: list[str], again: bool = False) -> list[Members]:
    if len(chunk) == 1:
        return [read_one(pool, chunk[0])]
    commands = [c for guid in chunk for c in (member_command(guid),
                                               Command("Get-DistributionGroup", {"Identity": guid}))]
    try:
        out: Output | None = pool.run(commands)
    except CollectionError:
        out = None
    if out is None or out.incomplete:
        return _one_by_one(pool, chunk)
    split = split_by_marker(out.rows, chunk)
    if split is not None:
        return [Members(rows) for rows in split]
    # Some group of the batch is a member of another (or of itself): its Guid occurs twice. The groups whose
    # Guid occurred once are members of none of the batch, so they are batched again without the others, and
    # those are read one pipeline each (once: a second odd answer sends the rest one by one too).
    counts = Counter(str(row.get("Guid") or "").lower() for row in out.rows)
    nested = [g for g in chunk if counts[g.lower()] != 1]
    rest = [g for g in chunk if counts[g.lower()] == 1]
    if again or not nested or not rest:
        return _one_by_one(pool, chunk)
    jobs: list[list[str]] = [rest, *([guid] for guid in nested)]  # side by side, over the free shells
    parts = pool.map(lambda job: _read_chunk(pool, job, again=True), jobs)
    found = {guid: members for job, part in zip(jobs, parts, strict=True)
             for guid, members in zip(job, part, strict=True)}
    return [found[guid] for guid in chunk]


def _one_by_one(pool: ShellPool, identities: list[str]) -> list[Members]:
    return pool.map(lambda identity: read_one(pool, identity), identities)


def split_by_marker(rows: Sequence[dict[str, Any]], guids: Sequence[str]) -> list[list[dict[str, Any]]] | None:
    """Each group's member rows from a batch's output (module docstring), or None when it is not that shape."""
    wanted = [g.lower() for g in guids]
    seen: dict[str, list[int]] = {g: [] for g in wanted}
    for index, row in enumerate(rows):
        guid = str(row.get("Guid") or "").lower()
        if guid in seen:
            seen[guid].append(index)
    if len(seen) != len(wanted) or any(len(at) != 1 for at in seen.values()):
        return None
    markers = [seen[g][0] for g in wanted]
    if markers != sorted(markers) or markers[-1] != len(rows) - 1:
        return None
    groups, start = [], 0
    for at in markers:
        groups.append(list(rows[start:at]))
        start = at + 1
    return groups

