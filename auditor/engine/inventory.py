"""The inventory in findings.json: what the auditor saw, per integration and per swept app.

The HTML report draws its integration sections from it. Whatever could not be read shows as
{"unavailable": reason}; the findings carry the verdicts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from auditor.checks.base import NotApplicable, SectionUnavailable
from auditor.checks.context import Context
from auditor.checks.credentials import describe
from auditor.checks.permissions import (
    Permission,
    granted_permissions,
    is_mailbox_role,
    requested_permissions,
    sweep_holdings,
)
from auditor.checks.reach import AppReach, app_reach, integration_reach
from auditor.models.baseline import Integration
from auditor.models.graph import MICROSOFT_TENANT_IDS
from auditor.models.parsing import DataError


def _safe(func: Callable[[], Any]) -> Any:
    try:
        return func()
    except (SectionUnavailable, DataError) as exc:
        return {"unavailable": str(exc)}
    except NotApplicable as exc:
        return {"unavailable": exc.reason}


def _app_reach(ctx: Context, app_id: str, perms: list[Permission], roles: list[str]) -> dict[str, Any]:
    return _reach(app_reach(ctx, app_id, perms, roles))


def _reach(reach: AppReach) -> dict[str, Any]:
    """Each app's reach, first: "can reach: all N mailboxes / K mailboxes through group G / through scope S"."""
    return {"can_reach": reach.describe(), "paths": reach.paths, "count": reach.aggregate.get("count"),
            "beyond_queues": reach.aggregate.get("outside_queues"), "all": bool(reach.aggregate.get("all")),
            "error": reach.error}


def build_inventory(ctx: Context) -> dict[str, Any]:
    return {
        "integrations": [_integration(ctx, i) for i in ctx.baseline.integrations],
        "sweep": _safe(lambda: _sweep(ctx)) if ctx.baseline.sweep.enabled else {"unavailable": "sweep disabled"},
    }


def _integration(ctx: Context, integration: Integration) -> dict[str, Any]:
    app_id = integration.app_id
    sp = _safe(lambda: ctx.service_principal(app_id))
    application = _safe(lambda: ctx.application(app_id))
    has_sp = sp is not None and not isinstance(sp, dict)
    has_app = application is not None and not isinstance(application, dict)
    return {
        "name": integration.name,
        "app_id": app_id,
        "access_model": integration.access_model,
        "display_name": (sp.display_name if has_sp else "") or (application.display_name if has_app else ""),
        "permissions": {
            "baseline": list(integration.permissions),
            "allowed_extra": list(integration.allowed_extra),
            "requested": _safe(lambda: [p.name for p in requested_permissions(ctx, application)]) if has_app else [],
            "granted": _safe(lambda: [p.name for p in granted_permissions(ctx, sp)]) if has_sp else [],
        },
        "credentials": [describe(c, ctx.now) for c in application.credentials] if has_app else [],
        "service_principal_credentials": [describe(c, ctx.now) for c in sp.credentials] if has_sp else [],
        "scope_group": _safe(lambda: _group(ctx, integration)) if integration.scope_group else None,
        "policies": _safe(lambda: [
            {"AppId": p.app_id, "AccessRight": p.access_right, "ScopeName": p.scope_name, "IsValid": p.is_valid}
            for p in ctx.policies_naming(app_id)]),
        "rbac_assignments": _safe(lambda: [
            {"Name": a.name, "Role": a.role, "CustomResourceScope": a.custom_resource_scope,
             "RecipientGroupScope": a.recipient_group_scope, "organisation_wide": a.is_organisation_wide}
            for a in ctx.role_assignments_for(app_id)]),
        "reach": _safe(lambda: _reach(integration_reach(ctx, integration))),
        "access_tests": [_access(ctx, integration, m, "queue") for m in integration.mailboxes]
        + [_access(ctx, integration, c, "canary") for c in _safe(lambda: ctx.canaries(integration))
           if isinstance(c, str)],
    }


def _group(ctx: Context, integration: Integration) -> dict[str, Any]:
    group = ctx.group(integration.scope_group)
    if group is None:
        return {"address": integration.scope_group.lower(), "exists": False}
    members, nested = ctx.transitive_members(group)
    return {"address": group.address, "exists": True, "RecipientTypeDetails": group.recipient.recipient_type_details,
            "MemberJoinRestriction": group.member_join_restriction, "ManagedBy": list(group.managed_by),
            "members": sorted(m.address or m.name for m in members),
            "nested_groups": sorted(g.address or g.name for g in nested)}


def _access(ctx: Context, integration: Integration, address: str, role: str) -> dict[str, Any]:
    address = address.lower()
    row: dict[str, Any] = {"mailbox": address, "role": role}
    if integration.access_model == "policy" or role == "canary":
        test = _safe(lambda: ctx.access_test(integration.app_id, address))
        row["AccessCheckResult"] = "unavailable" if isinstance(test, dict) else test.access_check_result
    rbac = _safe(lambda: ctx.authorization_test(integration.app_id, address))
    if not isinstance(rbac, dict):
        row["rbac_in_scope"] = sorted(r.role_name for r in rbac.rows if r.in_scope)
    return row


def _sweep(ctx: Context) -> list[dict[str, Any]]:
    include_ms = ctx.baseline.sweep.include_microsoft_apps
    holdings = sweep_holdings(ctx)
    policies = _safe(ctx.policies)
    out = []
    for sp in sorted(ctx.service_principals(), key=lambda s: s.app_id):
        if not include_ms and sp.app_owner_organization_id in MICROSOFT_TENANT_IDS:
            continue
        perms = holdings.get(sp.id, [])
        rbac = _safe(partial(_mailbox_roles, ctx, sp.app_id))
        mailbox = [p.name for p in perms if p.is_mailbox_data]
        if not mailbox and not [p for p in perms if p.is_takeover] and not (isinstance(rbac, list) and rbac):
            continue
        own = [] if isinstance(policies, dict) else [
            p.access_right + ("" if p.is_valid else " (invalid)") + (" *" if p.is_wildcard else "")
            for p in ctx.policies_naming(sp.app_id)]
        roles: list[str] = rbac if isinstance(rbac, list) else []
        reach = _safe(partial(_app_reach, ctx, sp.app_id, perms, roles)) if mailbox or rbac else None
        out.append({"app_id": sp.app_id, "display_name": sp.display_name, "mailbox_permissions": mailbox,
                    "reach": reach,
                    "takeover_permissions": [p.name for p in perms if p.is_takeover], "rbac_mailbox_roles": rbac,
                    "policies": own if not isinstance(policies, dict) else policies})
    return out


def _mailbox_roles(ctx: Context, app_id: str) -> list[str]:
    """The RBAC for Applications mailbox roles assigned to an app (raises when Exchange was not read)."""
    return [a.role for a in ctx.role_assignments_for(app_id) if is_mailbox_role(a.role)]
