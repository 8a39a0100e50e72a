"""Is an app's mailbox access restricted? (SCOPE-001 and TEN-001 judge the same way.)

An Entra mailbox-data grant reaches every mailbox unless a valid RestrictAccess ApplicationAccessPolicy
covers the app, its own or a wildcard (`*`) one. DenyAccess alone restricts nothing, and a policy whose
IsValid is false (scope deleted, or not a security principal) takes no part.
https://learn.microsoft.com/graph/auth-limit-mailbox-access

RBAC for Applications grants add to Entra grants and never narrow them: an organisation-wide assignment of a
mailbox role is unrestricted access by itself, and a scoped one leaves an Entra grant as wide as it was.
https://learn.microsoft.com/exchange/permissions-exo/application-rbac
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor.checks.context import Context
from auditor.checks.permissions import Permission, is_mailbox_role
from auditor.models.exchange import RoleAssignment


@dataclass
class Restriction:
    restricted: bool
    reasons: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


def judge_restriction(ctx: Context, app_id: str, entra: list[Permission],
                      assignments: list[RoleAssignment] | None) -> Restriction:
    """`entra`: the app's granted permissions; `assignments`: its RBAC assignments (None: read them lazily)."""
    result = Restriction(restricted=True)
    mailbox = [p.name for p in entra if p.is_mailbox_data]
    result.evidence["entra_mailbox_permissions"] = mailbox
    if mailbox:
        covering = [p for p in ctx.policies_naming(app_id.lower()) if p.is_valid and p.is_restrict]
        result.evidence["restricting_policies"] = [
            {"AppId": p.app_id, "ScopeName": p.scope_name, "Identity": p.identity} for p in covering]
        if not covering:
            result.restricted = False
            result.reasons.append(f"holds {', '.join(mailbox)} through Entra with no valid RestrictAccess policy")
    if assignments is None and not result.restricted:
        # Already unrestricted through Entra: no need for Exchange RBAC data to reach the verdict.
        return result
    roles = assignments if assignments is not None else ctx.role_assignments_for(app_id)
    wide = [a for a in roles if is_mailbox_role(a.role) and a.is_organisation_wide]
    result.evidence["rbac_mailbox_roles"] = [
        {"Name": a.name, "Role": a.role, "organisation_wide": a.is_organisation_wide}
        for a in roles if is_mailbox_role(a.role)]
    if wide:
        result.restricted = False
        result.reasons.append("organisation-wide RBAC assignment of " + ", ".join(sorted({a.role for a in wide})))
    return result
