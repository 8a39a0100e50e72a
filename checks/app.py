"""APP, PERM, CONSENT and OWN checks: the registration, what it asks for and what it was granted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from auditor.checks import refs
from auditor.checks.base import NotApplicable, Result, check, errored, failed, passed, skipped
from auditor.checks.context import Context
from auditor.checks.permissions import (
    HARMLESS_DELEGATED,
    granted_permissions,
    is_allowed,
    requested_permissions,
    role_grants,
)
from auditor.models.baseline import Integration
from auditor.models.findings import Severity
from auditor.models.graph import Application, ServicePrincipal
from auditor.models.parsing import DataError

PUBLISHER_TENANT = "registered in the publisher's tenant (no application object here)"


@dataclass(frozen=True)
class AppState:
    sp: ServicePrincipal | None
    application: Application | None
    problem: str | None  # why APP-001 fails, None when it passes


def app_state(ctx: Context, integration: Integration) -> AppState:
    sp = ctx.service_principal(integration.app_id)
    application = ctx.application(integration.app_id)
    problem = None
    if sp is None:
        problem = f"no service principal with app id {integration.app_id} in the tenant"
    elif not sp.account_enabled:
        problem = "the service principal is disabled (accountEnabled is false)"
    elif application is None and sp.app_owner_organization_id == ctx.tenant_id:
        problem = "the app is registered in this tenant but its application object is gone"
    return AppState(sp, application, problem)


def require_app(ctx: Context, integration: Integration) -> ServicePrincipal:
    """The app's service principal; dependent checks do not apply (SKIP) when APP-001 fails."""
    state = app_state(ctx, integration)
    if state.problem or state.sp is None:
        raise NotApplicable(integration.app_id, f"APP-001 fails: {state.problem}")
    return state.sp


def require_registration(ctx: Context, integration: Integration) -> Application:
    """The app's application object; registration checks do not apply to a vendor's (multi-tenant) app."""
    require_app(ctx, integration)
    application = ctx.application(integration.app_id)
    if application is None:
        raise NotApplicable(integration.app_id, PUBLISHER_TENANT)
    return application


@check(
    id="APP-001",
    title="The app registration and its service principal exist and are enabled",
    severity=Severity.CRITICAL,
    needs=("graph.servicePrincipals", "graph.applications"),
    rationale="Every other verdict is about this app; a missing or disabled principal means the integration is "
              "broken or the baseline names the wrong app id.",
    remediation="Check the Application (client) ID in Entra admin center > App registrations and Enterprise "
                "applications; re-enable the service principal (Update-MgServicePrincipal -AccountEnabled:$true).",
    references=(refs.APP_OBJECTS, refs.SERVICE_PRINCIPAL),
)
def app_exists(ctx: Context, integration: Integration) -> Iterator[Result]:
    state = app_state(ctx, integration)
    evidence = {
        "servicePrincipal": state.sp and {"id": state.sp.id, "displayName": state.sp.display_name,
                                          "accountEnabled": state.sp.account_enabled,
                                          "appOwnerOrganizationId": state.sp.app_owner_organization_id},
        "application": state.application and {"id": state.application.id,
                                               "displayName": state.application.display_name},
    }
    if state.problem:
        yield failed(integration.app_id, state.problem, evidence)
    elif state.application is None:
        yield passed(integration.app_id, f"service principal enabled; {PUBLISHER_TENANT}", evidence)
    else:
        yield passed(integration.app_id, "application object and enabled service principal exist", evidence)


@check(
    id="PERM-001",
    title="Every baseline permission is requested by the registration",
    severity=Severity.MEDIUM,
    needs=("graph.resources", "graph.applications", "graph.servicePrincipals"),
    rationale="A permission that is granted but not declared is lost the next time someone re-consents from "
              "the registration; declaring it keeps the registration the source of truth.",
    remediation="Add the permission under App registrations > API permissions > Add a permission > "
                "Application permissions, then grant admin consent.",
    references=(refs.PERMISSIONS_REFERENCE, refs.GRANT_ADMIN_CONSENT),
)
def permissions_requested(ctx: Context, integration: Integration) -> Iterator[Result]:
    if integration.access_model == "rbac":
        yield skipped(integration.app_id, 'access_model is "rbac": permissions come from Exchange role assignments')
        return
    application = require_registration(ctx, integration)
    requested = requested_permissions(ctx, application)
    missing = [n for n in integration.permissions if not any(p.matches(n) for p in requested)]
    evidence = {"requested": [p.name for p in requested], "baseline": list(integration.permissions)}
    if missing:
        yield failed(integration.app_id, f"not requested: {', '.join(missing)}", {**evidence, "missing": missing})
    else:
        yield passed(integration.app_id, "every baseline permission is requested", evidence)


@check(
    id="PERM-002",
    title="No application permission beyond the baseline is requested or granted",
    severity=Severity.HIGH,
    needs=("graph.resources", "graph.applications", "graph.servicePrincipals", "graph.appRoleAssignments"),
    rationale="Each extra application permission works across the whole tenant; least privilege keeps a "
              "compromised integration from reaching more than its job needs.",
    remediation="Remove the permission from API permissions and revoke its grant: "
                "Remove-MgServicePrincipalAppRoleAssignment, or Enterprise applications > Permissions > Revoke.",
    references=(refs.PERMISSIONS_REFERENCE, refs.GRANT_VIA_GRAPH),
)
def no_extra_permissions(ctx: Context, integration: Integration) -> Iterator[Result]:
    sp = require_app(ctx, integration)
    application = ctx.application(integration.app_id)  # None for a vendor's app: it requests nothing here
    granted = granted_permissions(ctx, sp)
    requested = requested_permissions(ctx, application) if application else []
    extra: dict[str, set[str]] = {}
    for how, perms in (("requested", requested), ("granted", granted)):
        for perm in perms:
            rbac_only = integration.access_model == "rbac" and perm.is_mailbox_data
            if rbac_only or not is_allowed(integration, perm):
                extra.setdefault(perm.name, set()).add(how)
    evidence = {"requested": [p.name for p in requested], "granted": [p.name for p in granted],
                "allowed": list(integration.allowed_permissions)}
    if extra:
        listed = "; ".join(f"{name} ({' and '.join(sorted(hows))})" for name, hows in sorted(extra.items()))
        why = " (mailbox access must come from RBAC for Applications)" if integration.access_model == "rbac" else ""
        yield failed(integration.app_id, f"beyond the baseline{why}: {listed}",
                     {**evidence, "extra": {k: sorted(v) for k, v in sorted(extra.items())}})
    else:
        yield passed(integration.app_id, "nothing beyond the baseline is requested or granted", evidence)


@check(
    id="PERM-003",
    title="No directory-takeover permission is requested or granted",
    severity=Severity.CRITICAL,
    needs=("graph.resources", "graph.applications", "graph.servicePrincipals", "graph.appRoleAssignments"),
    rationale="Permissions such as RoleManagement.ReadWrite.Directory or AppRoleAssignment.ReadWrite.All let "
              "an app grant itself anything, including every mailbox; a mail integration never needs them.",
    remediation="Remove the permission from the registration and revoke the app role assignment "
                "(Remove-MgServicePrincipalAppRoleAssignment).",
    references=(refs.PERMISSIONS_REFERENCE, refs.PRIVILEGED_PERMISSIONS, refs.GRANT_VIA_GRAPH),
)
def no_takeover_permissions(ctx: Context, integration: Integration) -> Iterator[Result]:
    sp = require_app(ctx, integration)
    granted = [p.name for p in granted_permissions(ctx, sp) if p.is_takeover]
    application = ctx.application(integration.app_id)
    requested = [p.name for p in requested_permissions(ctx, application) if p.is_takeover] if application else []
    evidence = {"requested": requested, "granted": granted}
    if granted or requested:
        names = sorted(set(granted) | set(requested))
        yield failed(integration.app_id, f"directory-takeover permission: {', '.join(names)}", evidence)
    else:
        yield passed(integration.app_id, "no directory-takeover permission", evidence)


@check(
    id="PERM-004",
    title="The app holds no delegated permission grants",
    severity=Severity.MEDIUM,
    needs=("graph.applications", "graph.servicePrincipals", "graph.oauth2PermissionGrants"),
    rationale="A daemon integration signs in as itself; delegated grants let it act as users, a second path "
              "to mailboxes that access policies do not scope the same way.",
    remediation="Revoke the grant: Remove-MgOauth2PermissionGrant -OAuth2PermissionGrantId <id>, or "
                "Enterprise applications > Permissions > User consent > Revoke.",
    references=(refs.OAUTH2_GRANT, refs.GRANT_ADMIN_CONSENT),
)
def no_delegated_grants(ctx: Context, integration: Integration) -> Iterator[Result]:
    sp = require_app(ctx, integration)
    grants = ctx.grants_by_client(sp.id)
    risky = sorted({s for g in grants for s in g.scopes if s.lower() not in HARMLESS_DELEGATED})
    evidence = {"grants": [{"id": g.id, "consentType": g.consent_type, "scope": " ".join(g.scopes)} for g in grants]}
    if risky:
        yield failed(integration.app_id, f"delegated grants: {', '.join(risky)}", evidence)
    else:
        yield passed(integration.app_id, "no delegated grant beyond sign-in basics", evidence)


@check(
    id="CONSENT-001",
    title="Admin consent is granted for every baseline permission",
    severity=Severity.HIGH,
    needs=("graph.resources", "graph.applications", "graph.servicePrincipals", "graph.appRoleAssignments",
           "exchange.servicePrincipals", "exchange.roleAssignments"),
    rationale="A requested permission without admin consent does nothing: the integration fails at run time.",
    remediation="Grant admin consent: App registrations > API permissions > Grant admin consent; for rbac "
                "integrations, New-ManagementRoleAssignment -App <sp> -Role 'Application <permission>' "
                "-CustomResourceScope <scope>.",
    references=(refs.GRANT_ADMIN_CONSENT, refs.RBAC_FOR_APPS),
)
def consent_granted(ctx: Context, integration: Integration) -> Iterator[Result]:
    sp = require_app(ctx, integration)
    if integration.access_model == "rbac":
        roles = ctx.role_assignments_for(integration.app_id)
        missing = [n for n in integration.permissions if not any(role_grants(a.role, n) for a in roles)]
        evidence = {"rbac_roles": sorted({a.role for a in roles}), "baseline": list(integration.permissions)}
        how = "no RBAC for Applications assignment grants"
    else:
        granted = granted_permissions(ctx, sp)
        missing = [n for n in integration.permissions if not any(p.matches(n) for p in granted)]
        evidence = {"granted": [p.name for p in granted], "baseline": list(integration.permissions)}
        how = "no admin consent (appRoleAssignment) for"
    if missing:
        yield failed(integration.app_id, f"{how} {', '.join(missing)}", {**evidence, "missing": missing})
    else:
        yield passed(integration.app_id, "every baseline permission is granted", evidence)


@check(
    id="CONSENT-002",
    title="Every granted permission is declared on the registration",
    severity=Severity.MEDIUM,
    needs=("graph.resources", "graph.applications", "graph.servicePrincipals", "graph.appRoleAssignments"),
    rationale="A grant with no matching requiredResourceAccess entry was made out of band (directly through "
              "Graph) and escapes the review the consent prompt gives.",
    remediation="Either declare the permission on the registration or revoke the assignment "
                "(Remove-MgServicePrincipalAppRoleAssignment).",
    references=(refs.GRANT_VIA_GRAPH, refs.PERMISSIONS_REFERENCE),
)
def grants_declared(ctx: Context, integration: Integration) -> Iterator[Result]:
    sp = require_app(ctx, integration)
    application = require_registration(ctx, integration)
    declared = {(r.resource_app_id, r.role_id) for r in application.requested_roles}
    granted = granted_permissions(ctx, sp)
    undeclared = [p.name for p in granted if (p.resource_app_id, p.role_id) not in declared]
    evidence = {"granted": [p.name for p in granted], "undeclared": undeclared}
    if undeclared:
        yield failed(integration.app_id, f"granted out of band: {', '.join(undeclared)}", evidence)
    else:
        yield passed(integration.app_id, "every grant is declared on the registration", evidence)


@check(
    id="OWN-001",
    title="The registration's owners are approved, enabled members",
    severity=Severity.MEDIUM,
    needs=("graph.applications", "graph.servicePrincipals"),
    rationale="An owner can add credentials to the app and so act with all its permissions; a guest, a "
              "disabled account or an unknown owner is a quiet path to every queue mailbox.",
    remediation="Remove the owner: App registrations > Owners, or Remove-MgApplicationOwnerByRef.",
    references=(refs.APP_OWNERS,),
)
def owners_approved(ctx: Context, integration: Integration) -> Iterator[Result]:
    application = require_registration(ctx, integration)
    if application.owners is None:
        reason = ctx.item_error("graph.applications", f"owners:{integration.app_id}")
        if reason is None:
            raise DataError(f"graph.applications: owners of application {integration.app_id}: not collected")
        # A failed read, or owners Graph listed without their properties (the auditor may not read that type):
        # nothing to judge, and the reason names the permission to add.
        yield errored(integration.app_id, f"the owners could not be read: {reason}")
        return
    owners = application.owners
    approved = {o.lower() for o in integration.owners} if integration.owners is not None else None
    problems = []
    for owner in owners:
        label = owner.user_principal_name or owner.mail or owner.app_id or owner.id
        if owner.is_service_principal:
            if approved is None or (owner.app_id or "") not in approved:
                problems.append(f"{label}: a service principal is an owner")
            continue
        if (owner.user_type or "").lower() == "guest":
            problems.append(f"{label}: guest")
        if owner.account_enabled is False:
            problems.append(f"{label}: disabled")
        names = {(owner.user_principal_name or "").lower(), (owner.mail or "").lower()} - {""}
        if approved is not None and not names & approved:
            problems.append(f"{label}: not an approved owner")
    evidence = {"owners": [{"id": o.id, "type": o.odata_type, "userPrincipalName": o.user_principal_name,
                            "mail": o.mail, "accountEnabled": o.account_enabled, "userType": o.user_type,
                            "appId": o.app_id} for o in owners],
                "approved": sorted(approved) if approved is not None else None}
    if problems:
        yield failed(integration.app_id, "; ".join(problems), evidence)
    elif not owners:
        yield passed(integration.app_id, "the registration has no owners", evidence)
    else:
        yield passed(integration.app_id, "every owner is an approved, enabled member", evidence)
