"""TEN checks: the tenant sweep, every service principal, not only the integrations in the baseline.

First-party Microsoft apps (appOwnerOrganizationId of Microsoft's tenants) are left out unless
`[sweep] include_microsoft_apps`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from auditor.checks import refs
from auditor.checks.base import Result, SectionUnavailable, attempt, check, errored, failed, passed, per_item, skipped
from auditor.checks.context import Context
from auditor.checks.credentials import expiry_verdict
from auditor.checks.permissions import is_mailbox_role, sweep_holdings
from auditor.checks.scoping import judge_restriction
from auditor.models.exchange import RoleAssignment
from auditor.models.findings import Severity
from auditor.models.graph import MICROSOFT_TENANT_IDS, ServicePrincipal


def _swept(ctx: Context) -> list[ServicePrincipal]:
    include_ms = ctx.baseline.sweep.include_microsoft_apps
    return [sp for sp in ctx.service_principals()
            if include_ms or sp.app_owner_organization_id not in MICROSOFT_TENANT_IDS]


def _disabled(ctx: Context) -> Result | None:
    if not ctx.baseline.sweep.enabled:
        return skipped(ctx.tenant_id, "the tenant sweep is disabled ([sweep] enabled = false)")
    return None


def _label(sp: ServicePrincipal) -> str:
    return f"{sp.display_name} ({sp.app_id})" if sp.display_name else sp.app_id


@check(
    id="TEN-001",
    title="Every app with mailbox-data permissions is restricted",
    severity=Severity.CRITICAL,
    needs=("graph.servicePrincipals", "graph.appRoleAssignments", "graph.resources",
           "exchange.applicationAccessPolicies", "exchange.servicePrincipals", "exchange.roleAssignments"),
    rationale="Integrations in the baseline are not the only apps: any app holding Mail.Read with no policy "
              "reads every mailbox, and nobody may know it is there.",
    remediation="Restrict each app with New-ApplicationAccessPolicy -AccessRight RestrictAccess (or a scoped "
                "RBAC assignment), or remove its mailbox permissions.",
    references=(refs.LIMIT_MAILBOX_ACCESS, refs.RBAC_FOR_APPS),
    scope="tenant",
)
def all_mailbox_apps_restricted(ctx: Context) -> Iterator[Result]:
    if (off := _disabled(ctx)) is not None:
        yield off
        return
    swept = {sp.app_id: sp for sp in _swept(ctx)}
    by_id = {sp.id: sp for sp in swept.values()}
    holdings = sweep_holdings(ctx)
    entra = {by_id[pid].app_id: perms for pid, perms in holdings.items()
             if pid in by_id and any(p.is_mailbox_data for p in perms)}
    rbac, rbac_error = attempt(lambda: _rbac_by_app(ctx))
    if isinstance(rbac_error, SectionUnavailable) and rbac_error.skip:
        yield skipped(ctx.tenant_id, f"apps holding RBAC for Applications roles were not listed: {rbac_error}")
    elif rbac_error is not None:
        yield errored(ctx.tenant_id, f"apps holding RBAC for Applications roles could not be listed: {rbac_error}")
    rbac_apps = {a for a, roles in (rbac or {}).items() if any(is_mailbox_role(r.role) for r in roles)}
    candidates = set(entra) | {a for a in rbac_apps if a in swept or a not in _known_app_ids(ctx)}
    for app_id in sorted(candidates):
        sp = swept.get(app_id)
        label = _label(sp) if sp else app_id

        def judge(app_id: str = app_id, label: str = label) -> Result:
            roles = None if rbac is None else rbac.get(app_id, [])
            verdict = judge_restriction(ctx, app_id, entra.get(app_id, []), roles)
            if verdict.restricted:
                return passed(app_id, f"{label}: mailbox access is restricted", verdict.evidence)
            return failed(app_id, f"{label}: " + "; ".join(verdict.reasons), verdict.evidence)

        yield per_item(app_id, judge)


def _rbac_by_app(ctx: Context) -> dict[str, list[RoleAssignment]]:
    out: dict[str, list[RoleAssignment]] = {}
    for sp in ctx.exo_service_principals():
        assignments = ctx.role_assignments_for(sp.app_id)
        if assignments:
            out[sp.app_id] = assignments
    return out


def _known_app_ids(ctx: Context) -> set[str]:
    return {sp.app_id for sp in ctx.service_principals()}


@check(
    id="TEN-002",
    title="No app holds directory-takeover permissions unless approved",
    severity=Severity.CRITICAL,
    needs=("graph.servicePrincipals", "graph.appRoleAssignments", "graph.resources"),
    rationale="An app that can grant roles or permissions can make itself a mailbox reader (or a global "
              "administrator); each such app must be known and approved.",
    remediation="Revoke the permission (Remove-MgServicePrincipalAppRoleAssignment) or, if it is needed, list "
                "the app id in [sweep] allowed_privileged.",
    references=(refs.PERMISSIONS_REFERENCE, refs.PRIVILEGED_PERMISSIONS),
    scope="tenant",
)
def no_unapproved_takeover(ctx: Context) -> Iterator[Result]:
    if (off := _disabled(ctx)) is not None:
        yield off
        return
    holdings = sweep_holdings(ctx)
    allowed = set(ctx.baseline.sweep.allowed_privileged)
    for sp in sorted(_swept(ctx), key=lambda s: s.app_id):
        takeover = [p.name for p in holdings.get(sp.id, []) if p.is_takeover]
        if not takeover:
            continue
        evidence = {"permissions": takeover}
        if sp.app_id in allowed:
            yield passed(sp.app_id, f"{_label(sp)}: approved holder of {', '.join(takeover)}", evidence)
        else:
            yield failed(sp.app_id, f"{_label(sp)} holds {', '.join(takeover)}", evidence)


@check(
    id="TEN-003",
    title="No app's credentials run out within the warning window",
    severity=Severity.MEDIUM,
    needs=("graph.applications",),
    rationale="Expiring credentials are tomorrow's outage; the sweep gives one list for the whole tenant.",
    remediation="Rotate the credential: add a new certificate or secret, deploy it, remove the old one.",
    references=(refs.ADD_CREDENTIALS,),
    scope="tenant",
)
def no_expiring_credentials(ctx: Context) -> Iterator[Result]:
    if (off := _disabled(ctx)) is not None:
        yield off
        return
    # One problem, one finding: CRED-002 judges a baseline integration's credentials with the same window.
    integrations = {i.app_id.lower(): i.name for i in ctx.baseline.integrations}
    for app in sorted(ctx.applications(), key=lambda a: a.app_id):
        if not any(c.is_valid(ctx.now) for c in app.credentials):
            continue
        name = app.display_name or app.app_id
        if app.app_id.lower() in integrations:
            yield skipped(app.app_id, f"{name}: baseline integration {integrations[app.app_id.lower()]!r}; "
                                      "CRED-002 judges its credentials")
            continue
        verdict = expiry_verdict(app.app_id, app.credentials, ctx.now, ctx.policy.credential_warning_days)
        yield replace(verdict, message=f"{name}: {verdict.message}")


@check(
    id="TEN-004",
    title="No app still holds EWS full_access_as_app (EWS in Exchange Online is retired from October 2026)",
    severity=Severity.MEDIUM,
    needs=("graph.servicePrincipals", "graph.appRoleAssignments", "graph.resources"),
    rationale="full_access_as_app reaches every mailbox through EWS, which Exchange Online retires from "
              "October 2026: the app will break, and until then it is tenant-wide mailbox access.",
    remediation="Move the app to Microsoft Graph with scoped permissions, then revoke full_access_as_app "
                "(Remove-MgServicePrincipalAppRoleAssignment).",
    references=(refs.EWS_RETIREMENT, refs.EWS_OAUTH),
    scope="tenant",
)
def no_ews_full_access(ctx: Context) -> Iterator[Result]:
    if (off := _disabled(ctx)) is not None:
        yield off
        return
    holdings = sweep_holdings(ctx)
    for sp in sorted(_swept(ctx), key=lambda s: s.app_id):
        if any(p.is_ews_full_access for p in holdings.get(sp.id, [])):
            yield failed(sp.app_id, f"{_label(sp)} holds full_access_as_app", {"permission": "full_access_as_app"})
