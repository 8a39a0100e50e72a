"""SCOPE-007 and each app's reach: which mailboxes the app's access paths really cover (exchange.actualScope).

An Entra mailbox grant with no valid RestrictAccess policy (own or wildcard) reaches every mailbox; a valid
RestrictAccess policy narrows it to the nested members of the group it targets, whatever group the baseline
intended, and a DenyAccess policy takes its group's members out. RBAC for Applications assignments add their
scopes (management scope filter, direct group members, or the whole organisation) and never narrow an Entra
grant. https://learn.microsoft.com/graph/auth-limit-mailbox-access,
https://learn.microsoft.com/exchange/permissions-exo/application-rbac (docs/microsoft-facts.md, "Actual scope").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from auditor.checks import refs
from auditor.checks.app import require_app
from auditor.checks.base import Result, SectionUnavailable, check, errored, failed, passed, skipped
from auditor.checks.context import Context
from auditor.checks.permissions import Permission, granted_permissions, is_mailbox_role
from auditor.models.baseline import Integration
from auditor.models.findings import Severity
from auditor.models.parsing import DataError

SECTION = "exchange.actualScope"
EVIDENCE_LIMIT = 50
EXAMPLES = 3


@dataclass(frozen=True)
class AppReach:
    """What one app can reach, as recorded at collection: the paths that apply and their aggregate."""

    paths: str  # "policy" (Entra grant), "rbac", "combined", or "" (no mailbox permission)
    aggregate: dict[str, Any] = field(default_factory=dict)
    parts: tuple[dict[str, Any], ...] = ()
    restricted: bool = True
    mailbox_count: int | None = None

    @property
    def error(self) -> str | None:
        return self.aggregate.get("error") or None

    @property
    def outside(self) -> int:
        return int(self.aggregate.get("outside_queues") or 0)

    def reaching_parts(self) -> list[dict[str, Any]]:
        """The parts that add mailboxes beyond the queues (DenyAccess parts take away, never add)."""
        return [p for p in self.parts if p.get("path") != "DenyAccess" and (p.get("outside_queues") or 0) > 0]

    def describe(self) -> str:
        """`all N mailboxes`, or `K mailboxes through group G, scope S` (the report's "can reach")."""
        if not self.paths:
            return "no mailbox (no mailbox permission)"
        if self.error:
            return f"unknown ({self.error})"
        count = self.aggregate.get("count") or 0
        if self.aggregate.get("all"):
            excluded = self.aggregate.get("excluded") or 0
            return f"all {count:,} mailboxes" + (f" (all but {excluded:,} kept out by DenyAccess)" if excluded else "")
        through = list(dict.fromkeys(_label(p) for p in self.parts if p.get("path") != "DenyAccess" and p.get("count")))
        return _mailboxes(count) + (f" through {', '.join(through)}" if through else "")


def _mailboxes(count: int) -> str:
    return f"{count:,} mailbox" + ("" if count == 1 else "es")


def _label(part: dict[str, Any]) -> str:
    kind = part.get("scope_type")
    if kind == "ManagementScope":
        return f"scope {part.get('scope')}"
    if kind == "Organization":
        return "an organisation-wide RBAC assignment"
    return f"group {part.get('scope')}" + (" (RBAC)" if part.get("path") == "rbac" else "")


def scope_entry(ctx: Context, app_id: str) -> tuple[dict[str, Any], int | None]:
    """The app's exchange.actualScope record (an app with no policy or assignment of its own gets `*`'s,
    which only wildcard policies shape) and the tenant's mailbox count."""
    sec = ctx.section(SECTION)
    data = sec.data if isinstance(sec.data, dict) else None
    apps = data.get("apps") if data else None
    if not isinstance(apps, dict):
        raise DataError(f"{SECTION}: data.apps is missing or not an object")
    entry = apps.get(app_id.lower()) or apps.get("*")
    if not isinstance(entry, dict):
        raise SectionUnavailable(SECTION, f"the actual scope of app {app_id} was not recorded")
    count = data.get("mailbox_count") if data else None
    return entry, count if isinstance(count, int) else None


def app_reach(ctx: Context, app_id: str, entra: list[Permission], roles: list[str]) -> AppReach:
    """The reach of an app holding `entra` (granted permissions) and RBAC roles `roles`."""
    has_entra = any(p.is_mailbox_data for p in entra)
    has_rbac = any(is_mailbox_role(r) for r in roles)
    if not has_entra and not has_rbac:
        return AppReach("")
    entry, count = scope_entry(ctx, app_id)
    policy: dict[str, Any] = entry["policy"] if isinstance(entry.get("policy"), dict) else {}
    rbac: dict[str, Any] = entry["rbac"] if isinstance(entry.get("rbac"), dict) else {
        "error": "no RBAC path was recorded"}
    aggregate: Any
    if has_entra and has_rbac:
        paths, aggregate = "combined", entry.get("combined") or {"error": "no combined reach was recorded"}
        parts = (*policy.get("parts", ()), *rbac.get("parts", ()))
    elif has_entra:
        paths, aggregate, parts = "policy", policy, tuple(policy.get("parts", ()))
    else:
        paths, aggregate, parts = "rbac", rbac, tuple(rbac.get("parts", ()))
    if not isinstance(aggregate, dict):
        raise DataError(f"{SECTION}: the {paths} reach of app {app_id} is not an object")
    return AppReach(paths, aggregate, tuple(p for p in parts if isinstance(p, dict)),
                    bool(policy.get("restricted")) or not has_entra, count)


def integration_reach(ctx: Context, integration: Integration) -> AppReach:
    sp = require_app(ctx, integration)
    roles = [a.role for a in ctx.role_assignments_for(integration.app_id)]
    return app_reach(ctx, integration.app_id, granted_permissions(ctx, sp), roles)


def _why(reach: AppReach) -> str:
    reasons = []
    if not reach.restricted:
        reasons.append("no valid RestrictAccess policy")
    if any(p.get("scope_type") == "Organization" for p in reach.parts):
        reasons.append("an organisation-wide RBAC assignment")
    return " and ".join(reasons) or "its scope covers every mailbox"


def _by_path(reach: AppReach) -> list[dict[str, Any]]:
    return [{k: p.get(k) for k in ("path", "scope", "scope_type", "Role", "count", "outside_queues", "error")
             if k in p} for p in reach.parts]


@check(
    id="SCOPE-007",
    title="The app can reach only its queue mailboxes",
    severity=Severity.CRITICAL,
    needs=(SECTION, "graph.applications", "graph.servicePrincipals", "graph.appRoleAssignments", "graph.resources",
           "exchange.roleAssignments", "exchange.servicePrincipals"),
    rationale="Configuration checks say what each piece is; this one says what they add up to: every mailbox "
              "the app's access paths cover (policy group, DenyAccess, RBAC scopes), tested against the queues.",
    remediation="Narrow every path to the queue mailboxes: a valid RestrictAccess policy on the scope group "
                "(New-ApplicationAccessPolicy), a scope group holding only the queues "
                "(Remove-DistributionGroupMember), and RBAC assignments scoped to them (-CustomResourceScope).",
    references=(refs.LIMIT_MAILBOX_ACCESS, refs.RBAC_FOR_APPS, refs.GET_RECIPIENT),
)
def reaches_only_queues(ctx: Context, integration: Integration) -> Iterator[Result]:
    reach = integration_reach(ctx, integration)
    app = integration.app_id
    if not reach.paths:
        yield skipped(app, "the app holds no mailbox permission")
        return
    evidence: dict[str, Any] = {"paths": reach.paths, "count": reach.aggregate.get("count"),
                                "beyond_queues": reach.aggregate.get("outside_queues"),
                                "all_mailboxes": bool(reach.aggregate.get("all")),
                                "by_path": _by_path(reach)}
    if reach.error:
        yield errored(app, f"the actual scope cannot be evaluated: {reach.error}", evidence)
        return
    queues = len(integration.mailboxes)
    if reach.outside == 0:
        yield passed(app, f"reaches only its queue mailboxes ({reach.aggregate.get('count', 0)} reached)", evidence)
        return
    if reach.aggregate.get("all"):
        yield failed(app, f"can reach {_mailboxes(reach.outside)} beyond its {queues} queue "
                     f"mailbox{'' if queues == 1 else 'es'}: {_why(reach)}",
                     evidence)
        return
    members = [str(m) for m in reach.aggregate.get("members") or ()]
    evidence["mailboxes"] = members[:EVIDENCE_LIMIT]
    where = ", ".join(dict.fromkeys(_label(p) for p in reach.reaching_parts())) or "its scope"
    where = where.removeprefix("group ").removeprefix("scope ") if len(reach.reaching_parts()) == 1 else where
    examples = ", ".join(members[:EXAMPLES]) + ("…" if reach.outside > EXAMPLES else "")
    yield failed(app, f"reaches {_mailboxes(reach.outside)} of {where} beyond its queues, e.g. {examples}", evidence)


def scope_canary_gaps(ctx: Context, integration: Integration) -> Iterator[Result]:
    """SCOPE-005's word on the scope canaries it could not test: one FAIL counting those beyond the bound, one
    ERROR when the actual scope could not be worked out (no PASS may rest on it)."""
    sec = ctx.section("canaries")
    entry = sec.data.get(integration.app_id.lower()) if isinstance(sec.data, dict) else None
    if not isinstance(entry, dict):
        return
    if entry.get("scope_error"):
        yield errored(integration.app_id, f"scope canaries incomplete: {entry['scope_error']}")
    untested = entry.get("scope_untested")
    if isinstance(untested, int) and untested > 0:
        limit = entry.get("scope_limit")
        yield failed(integration.app_id,
                     f"{untested:,} mailboxes of the app's actual scope were not tested as canaries "
                     f"(scope_canary_limit = {limit}); see SCOPE-007",
                     {"untested": untested, "tested": len(entry.get("scope") or ()), "scope_canary_limit": limit})
