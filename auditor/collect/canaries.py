"""Canary sampling for SCOPE-005: which mailboxes outside an integration's scope to probe (pure, no I/O).

Explicit canaries come from the baseline. Sampled ones come from the tenant's mailbox pool, as `Get-EXOMailbox
-ResultSize Unlimited -PropertySets Minimum` lists it (`Get-Mailbox -ResultSize Unlimited` where the EXO cmdlets
are missing), kept to user, shared, room and equipment mailboxes (docs/snapshot.md).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from auditor.models.baseline import Integration
from auditor.models.snapshot import Section, SectionStatus

if TYPE_CHECKING:
    from auditor.collect.shortlists import Shortlists

POOL_TYPES = frozenset({"UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox"})
# The module's bulk cmdlet, outside the REST-backed cmdlets' 15-minute limit; its Minimum property set holds
# every property the pool rows are read for (docs/microsoft-facts.md, "Exchange Online session").
EXO_POOL_SOURCE = "exo:Get-EXOMailbox -ResultSize Unlimited -PropertySets Minimum -Properties ExchangeGuid,Sid"
POOL_SOURCE = "exo:Get-Mailbox -ResultSize Unlimited"  # where Get-EXOMailbox is not a command (direct endpoints)
CANARIES_SOURCE = f"sampled from {EXO_POOL_SOURCE} (else {POOL_SOURCE.removeprefix('exo:')})"


def in_pool(row: Mapping[str, Any]) -> bool:
    """A Get-Mailbox row that can be a canary: one of POOL_TYPES, with a primary SMTP address."""
    return row.get("RecipientTypeDetails") in POOL_TYPES and bool(row.get("PrimarySmtpAddress"))


def canary_rank(app_id: str, address: str, week: str = "") -> str:
    """The ordering key: SHA-256 (hex) of the lower-cased app id, the lower-cased address and, when samples
    rotate, the ISO week of the collection (`2026-W49`); without a week, the fixed order of earlier versions."""
    return hashlib.sha256((app_id.lower() + address.lower() + week).encode("utf-8")).hexdigest()


def iso_week(when: datetime) -> str:
    """`YYYY-Www`: the ISO 8601 week (Monday first; week 1 holds the year's first Thursday)."""
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def sample_canaries(app_id: str, pool: Iterable[str], excluded: Iterable[str], size: int,
                    week: str = "") -> list[str]:
    """The sampled canaries of one integration, lower-cased.

    Candidates are the pool's addresses minus `excluded` (the scope group's transitive members, the queue
    mailboxes and the explicit canaries), compared lower-cased and de-duplicated. They are ordered by
    `canary_rank(app_id, address)` (ties, which SHA-256 makes theoretical, by address) and the first `size`
    are taken. The choice is deterministic: same pool, same app, same canaries, on any machine; different
    apps probe different mailboxes, and a mailbox joining or leaving the pool moves at most one slot.
    """
    if size <= 0:
        return []
    skip = {address.lower() for address in excluded}
    return first_ranked(app_id, {address.lower() for address in pool if address} - skip, size, week)


def first_ranked(app_id: str, candidates: Iterable[str], size: int, week: str = "") -> list[str]:
    """The `size` lower-cased candidates first in canary_rank order. The raw digest orders as its hex form
    does, and a partial selection spares sorting a 50,000-mailbox pool once per integration."""
    pool = list(candidates)
    return [a for _, a in heapq.nsmallest(size, zip(rank_digests(app_id, rank_tails(pool, week)), pool,
                                                    strict=True))]


def rank_tails(addresses: Sequence[str], week: str = "") -> list[bytes]:
    """What follows the app id in each lower-cased address's canary_rank digest (shared by every integration)."""
    return [(address + week).encode("utf-8") for address in addresses]


def rank_digests(app_id: str, tails: Sequence[bytes]) -> list[bytes]:
    """canary_rank's raw SHA-256 digest for each tail of rank_tails."""
    prefix, sha256 = app_id.lower().encode("utf-8"), hashlib.sha256
    return [sha256(prefix + tail).digest() for tail in tails]


def is_group(row: Mapping[str, Any]) -> bool:
    """A group member that is itself a group (MailUniversalSecurityGroup, ...Distribution..., RoomList)."""
    kind = str(row.get("RecipientTypeDetails") or "")
    return kind.endswith("Group") or kind == "RoomList"


def transitive_members(groups: Sequence[Mapping[str, Any]], root_guid: str,
                       item_errors: Mapping[str, str]) -> tuple[set[str], str | None]:
    """Lower-cased addresses and Guids of every non-group member reached from the group `root_guid` in the
    `exchange.groups` entries, nested groups expanded and cycles cut; or a problem when the members of a
    nested group were not collected (access policies count nested members, so a gap cannot be skipped)."""
    by_guid = {str(g.get("Guid") or "").lower(): g for g in groups}
    found: set[str] = set()
    seen, queue = {root_guid.lower()}, [(root_guid.lower(), root_guid.lower())]  # (Guid, address for messages)
    while queue:
        guid, label = queue.pop()
        group = by_guid.get(guid)
        if group is None:
            cause = item_errors.get(label)
            return set(), f"the members of nested group {label} were not collected" + (f": {cause}" if cause else "")
        for member in group.get("Members") or ():
            key = str(member.get("Guid") or "").lower()
            if is_group(member):
                if key and key not in seen:
                    seen.add(key)
                    queue.append((key, str(member.get("PrimarySmtpAddress") or key).lower()))
            else:
                found |= {key, str(member.get("PrimarySmtpAddress") or "").lower()} - {""}
    return found, None


class CanaryPool:
    """The pool rows that can be canaries, indexed once for every integration's sample."""

    def __init__(self, pool: Sequence[Mapping[str, Any]]) -> None:
        self.by_address = {str(row["PrimarySmtpAddress"]).lower(): row for row in pool if in_pool(row)}
        self.address_by_guid: dict[str, set[str]] = {}
        for address, row in self.by_address.items():
            self.address_by_guid.setdefault(str(row.get("Guid") or "").lower(), set()).add(address)


def choose_canaries(app_id: str, explicit: Iterable[str], queues: Iterable[str], members: set[str],
                    pool: Sequence[Mapping[str, Any]] | CanaryPool, size: int, source: str = POOL_SOURCE,
                    week: str = "", shortlists: Shortlists | None = None
                    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One integration's `canaries` entry and the pool rows of its sampled canaries.

    `members`: the scope group's transitive members (addresses and Guids, lower-cased); a pool mailbox is
    left out when its address or its Guid is among them, or when it is a queue or an explicit canary."""
    index = pool if isinstance(pool, CanaryPool) else CanaryPool(pool)
    explicit = [c.lower() for c in explicit]
    excluded = members | {q.lower() for q in queues} | set(explicit)
    excluded |= {a for guid in members for a in index.address_by_guid.get(guid, ())}
    # shortlists.py: the same sample from the listing's partitions, ranked while they arrived, when they vouch
    early = shortlists.choose(app_id, excluded, index.by_address) if shortlists is not None and size > 0 else None
    sampled = [] if size <= 0 else early if early is not None else first_ranked(
        app_id, (a for a in index.by_address if a not in excluded), size, week)
    entry = {"explicit": explicit, "sampled": sampled, "pool_size": len(index.by_address), "pool_source": source}
    return entry, [dict(index.by_address[a]) for a in sampled]


def scope_members(groups: Section, scope_group: str, scope_guids: Mapping[str, str | None]
                  ) -> tuple[set[str], str | None]:
    """An integration's scope-group members to leave out of its sample, or why they are unknown.

    `scope_guids` maps each scope group address (lower-cased) to the Guid Get-DistributionGroup gave it, or
    None when the group does not exist (then nothing is left out: GRP-001 fails)."""
    if not scope_group:
        return set(), None
    if groups.status is not SectionStatus.OK:
        return set(), groups.error or "exchange.groups was not collected"
    if scope_group.lower() in groups.item_errors:
        return set(), groups.item_errors[scope_group.lower()]
    guid = scope_guids.get(scope_group.lower())
    return (set(), None) if guid is None else transitive_members(groups.data, guid, groups.item_errors)


def canaries_section(integrations: Sequence[Integration], groups: Section, scope_guids: Mapping[str, str | None],
                     pool: Sequence[Mapping[str, Any]] | None, pool_error: str | None, size: int,
                     source: str = POOL_SOURCE, week: str = "", shortlists: Shortlists | None = None
                     ) -> tuple[Section, dict[str, list[dict[str, Any]]]]:
    """The `canaries` section (every integration's explicit and sampled canaries) and the pool rows of the
    sampled ones by app id. An integration whose scope-group membership is unknown gets no entry (SCOPE-005 is
    then ERROR for it alone) and an item error saying why; a pool that could not be read fails the section."""
    if pool is None:
        return Section("canaries", CANARIES_SOURCE, SectionStatus.ERROR, pool_error or "no mailbox pool"), {}
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    index = CanaryPool(pool)
    for integration in integrations:
        app = integration.app_id.lower()
        members, problem = scope_members(groups, integration.scope_group, scope_guids)
        if problem is not None:
            errors[app] = f"cannot sample canaries outside scope group {integration.scope_group}: {problem}"
            continue
        data[app], rows[app] = choose_canaries(app, integration.canaries, integration.mailboxes, members, index,
                                               size, source, week, shortlists)
        data[app]["rotation"] = {"mode": "weekly" if week else "fixed", "week": week or None}
    return Section("canaries", f"sampled from {source}", SectionStatus.OK, None, data, None, errors), rows


def probes(integrations: Sequence[Integration], canaries: Section | None) -> dict[str, tuple[str, str]]:
    """What the effective-access tests probe: "appid|address" -> (app id, address as written) for every
    queue mailbox, explicit, sampled and scope canary of every integration (no sampled ones without
    `canaries`: what can be probed before the mailbox pool is read)."""
    chosen = canaries.data if canaries is not None and canaries.status is SectionStatus.OK else {}
    found: dict[str, tuple[str, str]] = {}
    for integration in integrations:
        app = integration.app_id.lower()
        sampled = (chosen.get(app) or {}).get("sampled") or []
        scope = (chosen.get(app) or {}).get("scope") or []
        for address in (*integration.mailboxes, *integration.canaries, *sampled, *scope):
            found.setdefault(f"{app}|{address.lower()}", (app, address))
    return found
