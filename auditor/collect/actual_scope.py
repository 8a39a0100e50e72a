"""The actual scope: which mailboxes each access path of an app really covers (issue 13), read and recorded.

Three kinds of path (docs/microsoft-facts.md, "Actual scope"):
- an Entra mailbox grant reaches every mailbox unless a valid RestrictAccess policy (the app's own or a
  wildcard) covers the app; then it reaches the members, nested groups expanded, of the groups those policies
  target, whatever group the baseline intended. A valid DenyAccess policy removes its group's members;
- an RBAC for Applications assignment reaches its scope: the recipients a management scope's
  RecipientRestrictionFilter selects (`Get-Recipient -RecipientPreviewFilter`), the direct members of a group
  scope, or every mailbox when it is organisation-wide;
- whether the Entra path applies depends on the app's Entra grants, which Graph collection reads at the same
  time: the section records the policy path, the RBAC path and their union, and the checks choose.

Nothing here judges: a target that cannot be read is recorded with its error, and every path it feeds says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.collect.canaries import POOL_TYPES, first_ranked, is_group
from auditor.collect.exchange_sections import ACTUAL_SCOPE_SOURCE, names
from auditor.collect.group_members import Members, read_members, read_one
from auditor.collect.reach import Reach, aggregate, app_entry, validity
from auditor.collect.shell import Command, ShellPool, one_line
from auditor.errors import CollectionError
from auditor.models.baseline import Integration
from auditor.models.snapshot import Section, SectionStatus

SOURCE = ACTUAL_SCOPE_SOURCE
MEMBER_LIMIT = 500
"""Mailbox addresses recorded per path and per app (sorted, beyond the queues); counts are always exact."""
# The identifiers ride along: Test-ApplicationAccessPolicy's MailboxId may carry any of them (undocumented), and a
# scope canary's batched test row is matched back by them (exchange_identities.mailbox_ids).
MEMBER_KEYS = ("Name", "PrimarySmtpAddress", "Guid", "RecipientTypeDetails", "ExternalDirectoryObjectId",
               "ExchangeGuid", "Sid")


@dataclass
class Target:
    """One scope object some path points at, and the mailboxes it covers (lower-cased address -> row)."""

    label: str
    mailboxes: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None


def _rows(section: Section | None) -> list[dict[str, Any]] | None:
    if section is None or section.status is not SectionStatus.OK or not isinstance(section.data, list):
        return None
    return [r for r in section.data if isinstance(r, dict)]


def _mailbox_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows that are mailboxes, as Get-Mailbox lists them for the canary pool (user, shared, room, equipment)."""
    return {str(r["PrimarySmtpAddress"]).lower(): {k: r[k] for k in MEMBER_KEYS if k in r} for r in rows
            if r.get("RecipientTypeDetails") in POOL_TYPES and r.get("PrimarySmtpAddress")}


class ScopeReader:
    """Reads the members of every target of every app's access paths over the collector's shells."""

    def __init__(self, pool: ShellPool) -> None:
        self.pool = pool
        self._read: dict[str, list[dict[str, Any]]] = {}  # group Guid -> member rows, across calls

    def sharing(self, pool: ShellPool) -> ScopeReader:
        """A reader over `pool` that shares this one's members read so far (call it after this one's reads)."""
        other = ScopeReader(pool)
        other._read = self._read
        return other

    def read(self, policies: Section, recipients: Section, groups: Section, scopes: Section, sps: Section,
             roles: Section, apps: set[str] | None = None, done: Mapping[str, Target] | None = None
             ) -> dict[str, Target]:
        """Targets keyed `policy:<policy Identity>` and `rbac:<assignment Name>`: those of `apps` (lower-cased
        app ids; wildcard policies always) or of every app, leaving out the keys `done` holds. Integrations'
        targets are read first, as their scope canaries wait for them; the sweep's follow while the access
        tests run."""
        done = done or {}
        owners = {str(sp.get(k) or "").lower(): str(sp.get("AppId") or "").lower()
                  for sp in _rows(sps) or [] for k in ("ObjectId", "AppId")}

        def asked(key: str, app: str) -> bool:
            return key not in done and (apps is None or app in apps or app == "*")

        targets: dict[str, Target] = {}
        group_jobs: dict[str, tuple[str, bool]] = {}  # group Guid -> (label, nested?)
        filters: dict[str, str] = {}  # management scope name (lower-cased) -> filter
        shown: dict[str, str] = {}  # management scope name (lower-cased) -> its name as Exchange spells it
        plans: list[tuple[str, str, Any]] = []  # (target key, kind, detail)
        for policy in _rows(policies) or []:
            key = f"policy:{policy.get('Identity')}"
            if validity(policy) is False or not asked(key, str(policy.get("AppId") or "").lower()):
                continue
            recipient = self._policy_scope(policy, recipients)
            if isinstance(recipient, str):
                targets[key] = Target(str(policy.get("ScopeName") or ""), error=recipient)
            elif is_group(recipient):
                group_jobs[str(recipient["Guid"]).lower()] = (str(recipient.get("PrimarySmtpAddress") or ""), True)
                plans.append((key, "nested", recipient))
            else:
                targets[key] = Target(str(recipient.get("PrimarySmtpAddress") or ""), _mailbox_rows([recipient]))
        scope_rows = {str(s.get("Name") or "").lower(): s for s in _rows(scopes) or []}
        for assignment in _rows(roles) or []:
            key = f"rbac:{assignment.get('Name')}"
            if not asked(key, owners.get(str(assignment.get("RoleAssignee") or "").lower(), "")):
                continue
            custom, group = assignment.get("CustomResourceScope"), assignment.get("RecipientGroupScope")
            if custom:
                scope = scope_rows.get(str(custom).lower())
                if _rows(scopes) is None:
                    targets[key] = Target(str(custom), error=f"Get-ManagementScope failed: {scopes.error}")
                elif scope is None or not scope.get("RecipientRestrictionFilter"):
                    targets[key] = Target(str(custom), error=f"management scope {custom} has no "
                                                             "RecipientRestrictionFilter in Get-ManagementScope")
                else:
                    filters[str(custom).lower()] = str(scope["RecipientRestrictionFilter"])
                    shown[str(custom).lower()] = str(scope.get("Name") or custom)
                    plans.append((key, "filter", str(custom).lower()))
            elif group:
                plans.append((key, "direct", str(group)))
            elif str(assignment.get("RecipientWriteScope") or "").lower() not in ("organization", ""):
                targets[key] = Target(str(assignment.get("RecipientWriteScope")), error=(
                    f"assignment {assignment.get('Name')} is scoped by {assignment.get('RecipientWriteScope')} "
                    "(an administrative unit?), which the auditor cannot expand"))
            else:
                plans.append((key, "organization", None))
        known = {str(g.get("Guid") or "").lower(): g for g in _rows(groups) or []}
        expanded, read_members = self._expand_groups(group_jobs, known)
        previews = dict(zip(filters, self.pool.map(lambda n: self._preview(shown[n], filters[n]), list(filters)),
                            strict=True))
        by_name: dict[str, Mapping[str, Any]] = {n: g for g in known.values() for n in names(g)}
        by_name.update({label.lower(): {"Members": read_members[guid]} for guid, (label, _) in group_jobs.items()
                        if guid in read_members and label})
        wanted = sorted({d for _, kind, d in plans if kind == "direct"})
        directs = dict(zip(wanted, self.pool.map(lambda g: self._direct(g, by_name.get(g.lower())), wanted),
                           strict=True))
        for key, kind, detail in plans:
            if kind == "nested":
                targets[key] = expanded[str(detail["Guid"]).lower()]
            elif kind == "filter":
                targets[key] = previews[detail]
            elif kind == "direct":
                targets[key] = directs[detail]
            else:
                targets[key] = Target("Organization")
        return targets

    @staticmethod
    def _policy_scope(policy: Mapping[str, Any], recipients: Section) -> dict[str, Any] | str:
        """The recipient a policy targets: Get-Recipient's row for the Guid of ScopeIdentityRaw `<Sid>;<Guid>`
        (matched on Guid or ExternalDirectoryObjectId), else the ScopeName; or why it is unknown."""
        rows = _rows(recipients)
        if rows is None:
            return f"Get-Recipient failed: {recipients.error}"
        raw = str(policy.get("ScopeIdentityRaw") or "")
        wanted = [raw.split(";", 1)[1].strip().lower()] if ";" in raw else []
        wanted += [str(policy.get("ScopeName") or "").lower()] if policy.get("ScopeName") else []
        for identity in wanted:
            hits = [r for r in rows if identity in names(r)]
            if len(hits) == 1:
                return hits[0]
        return (f"the scope of policy {policy.get('Identity')} ({policy.get('ScopeName')}) was not found by "
                "Get-Recipient")

    def _members(self, identity: str) -> tuple[list[dict[str, Any]], str | None]:
        return _outcome(identity, read_one(self.pool, identity))

    def _members_of(self, identities: list[str]) -> list[tuple[list[dict[str, Any]], str | None]]:
        return [_outcome(i, m) for i, m in zip(identities, read_members(self.pool, identities), strict=True)]

    def _expand_groups(self, jobs: Mapping[str, tuple[str, bool]], known: Mapping[str, Mapping[str, Any]]
                       ) -> tuple[dict[str, Target], dict[str, list[dict[str, Any]]]]:
        """Each group's transitive mailbox members (access-policy semantics: nested groups count), breadth
        first, cycles cut; members of groups exchange.groups already holds are reused."""
        members: dict[str, list[dict[str, Any]]] = {g: list(known[g]["Members"]) for g in known
                                                    if isinstance(known[g].get("Members"), list)}
        members.update(self._read)
        errors: dict[str, str] = {}
        level = [g for g in jobs if g not in members]
        while level:
            for guid, (rows, error) in zip(level, self._members_of(level), strict=True):
                members[guid] = rows
                if error:
                    errors[guid] = error
                else:
                    self._read[guid] = rows
            level = sorted({str(m.get("Guid") or "").lower() for rows in members.values() for m in rows
                            if is_group(m) and m.get("Guid")} - set(members) - set(errors))
        out: dict[str, Target] = {}
        for guid, (label, _) in jobs.items():
            target, seen, queue = Target(label), {guid}, [guid]
            while queue and target.error is None:
                current = queue.pop()
                if current in errors:
                    target.error = f"members of {label} not read: {errors[current]}"
                for m in members.get(current, []):
                    inner = str(m.get("Guid") or "").lower()
                    if is_group(m):
                        if inner and inner not in seen:
                            seen.add(inner)
                            queue.append(inner)
                    else:
                        target.mailboxes.update(_mailbox_rows([m]))
            out[guid] = target
        return out, {g: rows for g, rows in members.items() if g not in errors}

    def _direct(self, group: str, known: Mapping[str, Any] | None) -> Target:
        """A group scope's direct members (RBAC for Applications: nested groups are not in scope); a group
        exchange.groups already holds is not read again."""
        if known is not None and isinstance(known.get("Members"), list):
            rows, error = list(known["Members"]), None
        else:
            rows, error = self._members(group)
        return Target(group, error=error) if error else Target(group, _mailbox_rows(
            r for r in rows if not is_group(r)))

    def _preview(self, name: str, text: str) -> Target:
        """Get-Recipient -RecipientPreviewFilter: the recipients a management scope's filter selects.
        Source: docs/microsoft-facts.md (Get-Recipient.md, RecipientPreviewFilter)."""
        try:
            out = self.pool.run([Command("Get-Recipient", {"RecipientPreviewFilter": text,
                                                           "ResultSize": "Unlimited"})])
        except CollectionError as exc:
            return Target(name, error=one_line(str(exc)))
        problem = out.incomplete
        if problem:
            return Target(name, error=f"Get-Recipient -RecipientPreviewFilter {text!r}: {one_line(problem)}")
        return Target(name, _mailbox_rows(out.rows))


def _outcome(identity: str, members: Members) -> tuple[list[dict[str, Any]], str | None]:
    if members.failure:
        return [], members.failure
    if members.problem:
        return [], f"Get-DistributionGroupMember -Identity {identity}: {members.problem}"
    return members.rows, None


def actual_scope_section(apps: Sequence[tuple[str, Sequence[str]]], policies: Section, roles: Section,
                         sps: Section, targets: Mapping[str, Target], pool: Sequence[Mapping[str, Any]] | None,
                         pool_error: str | None) -> tuple[Section, dict[str, tuple[Reach, Reach]]]:
    """`exchange.actualScope` for the given (app id, queue addresses) pairs, plus `*` (an app with no policy
    or assignment of its own), and every app that a policy names or an assignment is given to; and the
    (policy path, RBAC path) reaches of each app (for its scope canaries)."""
    every = _mailbox_rows(pool) if pool is not None else None
    policy_rows, role_rows = _rows(policies), _rows(roles)
    sp_rows = _rows(sps)
    queues = {app.lower(): [q.lower() for q in qs] for app, qs in apps}
    others = {str(p.get("AppId") or "").lower() for p in policy_rows or []} - {"*", ""}
    assignee_app = {str(sp.get(k) or "").lower(): str(sp.get("AppId") or "").lower()
                    for sp in sp_rows or [] for k in ("ObjectId", "AppId")}
    others |= {assignee_app.get(str(r.get("RoleAssignee") or "").lower(), "") for r in role_rows or []} - {""}
    data: dict[str, Any] = {"mailbox_count": len(every) if every is not None else None,
                            "mailbox_count_error": None if every is not None else (pool_error or "no mailbox pool"),
                            "member_limit": MEMBER_LIMIT, "apps": {}}
    unions: dict[str, tuple[Reach, Reach]] = {}
    by_app: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # a sweep has thousands of policies: index them
    for position, row in enumerate(policy_rows or []):
        by_app.setdefault(str(row.get("AppId") or "").lower(), []).append((position, row))
    for app in ["*", *sorted(set(queues) | others)]:
        mine = None if policy_rows is None else [r for _, r in sorted(
            [*by_app.get(app, []), *(by_app.get("*", []) if app != "*" else [])], key=lambda pair: pair[0])]
        entry, union = app_entry(app, queues.get(app, []), mine, policies.error, role_rows, roles.error,
                                 assignee_app, None if sp_rows is not None else sps.error or "not read", targets,
                                 every, MEMBER_LIMIT)
        data["apps"][app] = entry
        unions[app] = union
    return Section("exchange.actualScope", SOURCE, SectionStatus.OK, None, data), unions


def with_scope_canaries(integrations: Sequence[Integration], canaries: Section,
                        reaches: Mapping[str, tuple[Reach, Reach]], targets: Mapping[str, Target],
                        pool: Sequence[Mapping[str, Any]] | None, limit: int, week: str
                        ) -> tuple[Section, dict[str, list[dict[str, Any]]]]:
    """The `canaries` section with each integration's scope canaries (`scope`, `scope_untested`, `scope_limit`,
    `scope_error`) and the mailbox rows of the chosen ones by app id.

    Scope canaries are the mailboxes of the actual scope that are neither queues nor explicit or sampled
    canaries, first `limit` in canary order (rotating like the sample). The Entra path counts for `policy`
    integrations always, for `rbac` ones only where a RestrictAccess policy narrows it: an rbac app holds no
    Entra grant by design, and probing the whole tenant for one it should not hold is left to SCOPE-007."""
    if canaries.status is not SectionStatus.OK or not isinstance(canaries.data, dict):
        return canaries, {}
    every = _mailbox_rows(pool) if pool is not None else None
    rows_by_address: dict[str, dict[str, Any]] = {a: r for t in targets.values() for a, r in t.mailboxes.items()}
    # The pool's own rows, untrimmed: their ExchangeGuid and Sid let the access tests match a MailboxId in
    # either form inside the batch (docs/microsoft-facts.md), as for sampled canaries.
    rows_by_address.update({str(r["PrimarySmtpAddress"]).lower(): dict(r) for r in pool or ()
                            if r.get("RecipientTypeDetails") in POOL_TYPES and r.get("PrimarySmtpAddress")})
    data = {app: dict(entry) for app, entry in canaries.data.items()}
    chosen_rows: dict[str, list[dict[str, Any]]] = {}
    for integration in integrations:
        app = integration.app_id.lower()
        if app not in data or app not in reaches:
            continue
        policy, rbac = reaches[app]
        reach = rbac if integration.access_model == "rbac" and policy.all else policy.union(rbac)
        reached = reach.addresses(every)
        entry = data[app]
        taken = {*integration.mailboxes, *entry.get("explicit", []), *entry.get("sampled", [])}
        if reached is None:
            entry.update(scope=[], scope_untested=None, scope_limit=limit,
                         scope_error="the tenant's mailboxes were not listed: " + "; ".join(reach.errors or ["?"]))
            continue
        candidates = reached - {a.lower() for a in taken}
        chosen = sorted(first_ranked(app, candidates, limit, week)) if limit > 0 else []
        entry.update(scope=chosen, scope_untested=len(candidates) - len(chosen), scope_limit=limit,
                     scope_error="; ".join(reach.errors) or None)
        chosen_rows[app] = [rows_by_address[a] for a in chosen if a in rows_by_address]
    return Section(canaries.name, canaries.source, canaries.status, canaries.error, data, canaries.queried,
                   canaries.item_errors), chosen_rows


__all__ = ["SOURCE", "ScopeReader", "Target", "actual_scope_section", "aggregate", "with_scope_canaries"]
