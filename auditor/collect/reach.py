"""The reach of one app's access paths, worked out from what the collector read (pure, no I/O).

Access-policy semantics (docs/microsoft-facts.md, "Access policies"): a matching DenyAccess denies; else a
matching RestrictAccess grants; else, if the app has any RestrictAccess policy, deny; else grant. Only valid
policies (IsValid true) take part; `AppId` `*` applies to every app. So the Entra path reaches the members of
the RestrictAccess groups minus the DenyAccess groups when the app has a RestrictAccess policy, and every
mailbox minus the DenyAccess groups otherwise. RBAC for Applications assignments add their scopes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.checks.permissions import is_mailbox_role

if TYPE_CHECKING:
    from auditor.collect.actual_scope import Target


@dataclass
class Reach:
    """Mailboxes (lower-cased addresses) a path covers: `members`, or every mailbox but `excluded` when `all`."""

    all: bool = False
    members: set[str] = field(default_factory=set)
    excluded: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def union(self, other: Reach) -> Reach:
        errors = [*self.errors, *other.errors]
        if self.all and other.all:
            return Reach(True, set(), self.excluded & other.excluded, errors)
        if self.all or other.all:
            wide, narrow = (self, other) if self.all else (other, self)
            return Reach(True, set(), wide.excluded - narrow.members, errors)
        return Reach(False, self.members | other.members, set(), errors)

    def addresses(self, every: Mapping[str, Any] | None) -> set[str] | None:
        """Every address reached, or None when it is `all` and the tenant's mailboxes are unknown."""
        if not self.all:
            return set(self.members)
        return None if every is None else set(every) - self.excluded


def aggregate(reach: Reach, queues: Sequence[str], every: Mapping[str, Any] | None, limit: int) -> dict[str, Any]:
    """The recorded form: counts, and the mailboxes beyond the queues (sorted, at most `limit`). Counting an
    `all` reach never builds the tenant's set: 10,000 apps times 50,000 mailboxes would be the run's cost."""
    queue_set = set(queues)
    if reach.all:
        if every is None:
            return {"all": True, "count": None, "outside_queues": None, "members": [], "truncated": False,
                    "excluded": len(reach.excluded), "error": "; ".join(
                        [*reach.errors, "the tenant's mailboxes were not listed (Get-Mailbox -ResultSize Unlimited)"])}
        excluded = {a for a in reach.excluded if a in every}
        count = len(every) - len(excluded)
        queues_in = sum(1 for q in queue_set if q in every and q not in excluded)
        return {"all": True, "count": count, "outside_queues": count - queues_in, "members": [], "truncated": False,
                "excluded": len(excluded), "error": "; ".join(reach.errors) or None}
    outside = sorted(reach.members - queue_set)
    return {"all": False, "count": len(reach.members), "outside_queues": len(outside), "members": outside[:limit],
            "truncated": len(outside) > limit, "excluded": 0, "error": "; ".join(reach.errors) or None}


def validity(policy: Mapping[str, Any]) -> bool | None:
    """A policy's IsValid: a boolean, or its text form ("True"/"False") as some hosts serialise it; None when
    missing or anything else (the path is then unknown, never assumed valid or invalid)."""
    value = policy.get("IsValid")
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str) else ""
    return {"true": True, "false": False}.get(text)


def _part(path: str, target: Target | None, key: str, limit: int, queues: Sequence[str], **extra: Any
          ) -> dict[str, Any]:
    if target is None:
        return {"path": path, **extra, "scope": "", "count": None, "outside_queues": None, "members": [],
                "error": f"{key} was not read"}
    outside = sorted(set(target.mailboxes) - set(queues))
    known = target.error is None
    return {"path": path, **extra, "scope": target.label, "count": len(target.mailboxes) if known else None,
            "outside_queues": len(outside) if known else None, "members": outside[:limit], "error": target.error}


def policy_path(app: str, policies: list[dict[str, Any]] | None, error: str | None,
                targets: Mapping[str, Target], limit: int, queues: Sequence[str]
                ) -> tuple[Reach, list[dict[str, Any]], bool]:
    """(reach of the Entra path, its parts, whether a valid RestrictAccess policy restricts it)."""
    if policies is None:
        return Reach(errors=[f"Get-ApplicationAccessPolicy failed: {error}"]), [], False
    reach, parts = Reach(), []
    deny: set[str] = set()
    restrict = False
    for policy in policies:
        applies = str(policy.get("AppId") or "").lower() in (app, "*")
        if not applies or validity(policy) is False:
            continue
        if validity(policy) is None:
            reach.errors.append(f"policy {policy.get('Identity')} has no readable IsValid ({policy.get('IsValid')!r})")
            continue
        key = f"policy:{policy.get('Identity')}"
        target = targets.get(key)
        right = str(policy.get("AccessRight") or "")
        parts.append(_part(right, target, key, limit, queues, policy=str(policy.get("Identity") or ""),
                           AppId=str(policy.get("AppId") or "")))
        if target is None or target.error:
            reach.errors.append(parts[-1]["error"])
            continue
        if right.lower() == "denyaccess":
            deny |= set(target.mailboxes)
        elif right.lower() == "restrictaccess":
            restrict = True
            reach.members |= set(target.mailboxes)
    if not restrict:
        reach.all = True
        reach.members = set()
        reach.excluded = deny
    else:
        reach.members -= deny
    return reach, parts, restrict


def rbac_path(app: str, roles: list[dict[str, Any]] | None, error: str | None, assignee_app: Mapping[str, str],
              sps_error: str | None, targets: Mapping[str, Target], limit: int, queues: Sequence[str],
              every: Mapping[str, Any] | None) -> tuple[Reach, list[dict[str, Any]]]:
    if roles is None or sps_error is not None:
        why = (f"Get-ManagementRoleAssignment failed: {error}" if roles is None
               else f"Get-ServicePrincipal failed: {sps_error}")
        return Reach(errors=[why]), []
    reach, parts = Reach(), []
    for assignment in roles:
        if assignee_app.get(str(assignment.get("RoleAssignee") or "").lower()) != app:
            continue
        role = str(assignment.get("Role") or "")
        if not is_mailbox_role(role) or str(assignment.get("Enabled")).lower() == "false":
            continue  # a disabled assignment (Set-ManagementRoleAssignment -Enabled $false) grants nothing
        key = f"rbac:{assignment.get('Name')}"
        target = targets.get(key)
        kind = ("ManagementScope" if assignment.get("CustomResourceScope") else
                "RecipientGroupScope" if assignment.get("RecipientGroupScope") else "Organization")
        parts.append(_part("rbac", target, key, limit, queues, assignment=str(assignment.get("Name") or ""), Role=role,
                           scope_type=kind))
        if target is None or target.error:
            reach.errors.append(parts[-1]["error"])
        elif kind == "Organization":
            reach = reach.union(Reach(True))
            whole = aggregate(Reach(True), queues, every, 0)
            parts[-1].update(count=whole["count"], all=True, outside_queues=whole["outside_queues"])
        else:
            reach = reach.union(Reach(False, set(target.mailboxes)))
    return reach, parts


def app_entry(app: str, queues: Sequence[str], policies: list[dict[str, Any]] | None, policies_error: str | None,
              roles: list[dict[str, Any]] | None, roles_error: str | None, assignee_app: Mapping[str, str],
              sps_error: str | None, targets: Mapping[str, Target], every: Mapping[str, Any] | None,
              limit: int) -> tuple[dict[str, Any], tuple[Reach, Reach]]:
    """One app's record in exchange.actualScope, and the reaches of its (policy, RBAC) paths."""
    policy, policy_parts, restricted = policy_path(app, policies, policies_error, targets, limit, queues)
    entry: dict[str, Any] = {"queues": list(queues), "policy": {
        "restricted": restricted, "parts": policy_parts, **aggregate(policy, queues, every, limit)}}
    if app == "*":
        return entry, (policy, Reach())
    rbac, rbac_parts = rbac_path(app, roles, roles_error, assignee_app, sps_error, targets, limit, queues, every)
    union = policy.union(rbac)
    entry["rbac"] = {"parts": rbac_parts, **aggregate(rbac, queues, every, limit)}
    entry["combined"] = aggregate(union, queues, every, limit)
    return entry, (policy, rbac)
