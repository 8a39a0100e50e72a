"""The check catalog, in report order. Explicit: no globbing, no registration by import side effects."""

from __future__ import annotations

from auditor.checks import app, credentials, group, mailbox, reach, scope, tenant
from auditor.checks.base import CheckSpec

INTEGRATION_CHECKS: tuple[CheckSpec, ...] = (
    app.app_exists,
    app.permissions_requested,
    app.no_extra_permissions,
    app.no_takeover_permissions,
    app.no_delegated_grants,
    app.consent_granted,
    app.grants_declared,
    credentials.has_valid_credential,
    credentials.credentials_not_expiring,
    credentials.no_expired_credentials,
    credentials.secret_lifetime,
    credentials.certificate_not_secret,
    credentials.no_sp_credentials,
    app.owners_approved,
    group.group_is_security_group,
    group.queues_in_group,
    group.group_has_only_queues,
    group.group_managed,
    mailbox.queues_are_shared,
    mailbox.queue_sign_in_blocked,
    scope.access_restricted,
    scope.policy_targets_group,
    scope.policy_unambiguous,
    scope.queues_reachable,
    scope.canaries_unreachable,
    scope.rbac_scoped,
    reach.reaches_only_queues,
)

TENANT_CHECKS: tuple[CheckSpec, ...] = (
    tenant.all_mailbox_apps_restricted,
    tenant.no_unapproved_takeover,
    tenant.no_expiring_credentials,
    tenant.no_ews_full_access,
)

CATALOG: tuple[CheckSpec, ...] = INTEGRATION_CHECKS + TENANT_CHECKS


def by_id(check_id: str) -> CheckSpec | None:
    return next((c for c in CATALOG if c.id == check_id), None)
