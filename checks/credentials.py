"""CRED checks: the credentials the integration signs in with.

CRED-001 to CRED-005 read the application object's passwordCredentials and keyCredentials; CRED-006 reads
the service principal's own, which do not show on the app registration page.
https://learn.microsoft.com/graph/api/resources/passwordcredential
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from auditor.checks import refs
from auditor.checks.app import require_app, require_registration
from auditor.checks.base import Result, check, failed, passed, skipped
from auditor.checks.context import Context
from auditor.models.baseline import Integration
from auditor.models.findings import Severity
from auditor.models.graph import Credential
from auditor.models.timeutil import format_datetime


def describe(cred: Credential, now: datetime) -> dict[str, Any]:
    return {"keyId": cred.key_id, "type": cred.kind, "displayName": cred.display_name,
            "startDateTime": format_datetime(cred.start), "endDateTime": format_datetime(cred.end),
            "days_left": days_until(cred.end, now)}


def days_until(moment: datetime, now: datetime) -> int:
    return (moment - now) // timedelta(days=1)


def expiry_verdict(app_id: str, credentials: tuple[Credential, ...], now: datetime, warning_days: int) -> Result:
    """CRED-002 and TEN-003: does the latest-ending valid credential end within the warning window?"""
    valid = [c for c in credentials if c.is_valid(now)]
    if not valid:
        return skipped(app_id, "no valid credential (see CRED-001)")
    last = max(valid, key=lambda c: c.end)
    evidence = {"latest": describe(last, now), "warning_days": warning_days}
    days_left = days_until(last.end, now)
    if last.end <= now + timedelta(days=warning_days):
        return failed(app_id, f"the last valid credential ends {format_datetime(last.end)}, in {days_left} days "
                              f"(warning window {warning_days} days)", evidence)
    return passed(app_id, f"valid until {format_datetime(last.end)} ({days_left} days)", evidence)


@check(
    id="CRED-001",
    title="The app has at least one unexpired credential",
    severity=Severity.HIGH,
    needs=("graph.applications", "graph.servicePrincipals"),
    rationale="With no valid secret or certificate the integration cannot sign in: queues stop being read.",
    remediation="Add a certificate (preferred) or a client secret under App registrations > Certificates & "
                "secrets, and deploy it to the service.",
    references=(refs.ADD_CREDENTIALS, refs.PASSWORD_CREDENTIAL),
)
def has_valid_credential(ctx: Context, integration: Integration) -> Iterator[Result]:
    application = require_registration(ctx, integration)
    creds = application.credentials
    valid = [c for c in creds if c.is_valid(ctx.now)]
    evidence = {"credentials": [describe(c, ctx.now) for c in creds]}
    if valid:
        yield passed(integration.app_id, f"{len(valid)} valid credential(s)", evidence)
    elif creds:
        yield failed(integration.app_id, "every credential is expired or not yet valid", evidence)
    else:
        yield failed(integration.app_id, "the registration has no credential", evidence)


@check(
    id="CRED-002",
    title="The app's credentials do not run out within the warning window",
    severity=Severity.MEDIUM,
    needs=("graph.applications", "graph.servicePrincipals"),
    rationale="When the last valid secret or certificate expires, the integration stops reading mail.",
    remediation="Add a new certificate (or secret) under Certificates & secrets, deploy it, then remove the old one.",
    references=(refs.ADD_CREDENTIALS,),
)
def credentials_not_expiring(ctx: Context, integration: Integration) -> Iterator[Result]:
    application = require_registration(ctx, integration)
    yield expiry_verdict(integration.app_id, application.credentials, ctx.now,
                         ctx.policy.credential_warning_days)


@check(
    id="CRED-003",
    title="No expired credentials linger on the registration",
    severity=Severity.LOW,
    needs=("graph.applications", "graph.servicePrincipals"),
    rationale="Expired credentials are clutter that hides which credential is live, and a sign that rotation "
              "is done by hand.",
    remediation="Remove the expired credential: Remove-MgApplicationPassword / Remove-MgApplicationKey, or "
                "Certificates & secrets > Delete.",
    references=(refs.ADD_CREDENTIALS,),
)
def no_expired_credentials(ctx: Context, integration: Integration) -> Iterator[Result]:
    application = require_registration(ctx, integration)
    expired = [c for c in application.credentials if c.is_expired(ctx.now)]
    for cred in expired:
        yield failed(f"{integration.app_id}/{cred.key_id}",
                     f"{cred.kind} {cred.display_name!r} expired {format_datetime(cred.end)}", describe(cred, ctx.now))
    if not expired:
        yield passed(integration.app_id, "no expired credential")


@check(
    id="CRED-004",
    title="Client secrets live no longer than the policy allows",
    severity=Severity.MEDIUM,
    needs=("graph.applications", "graph.servicePrincipals"),
    rationale="A long-lived secret that leaks stays usable for years; short lifetimes force rotation.",
    remediation="Replace the secret with a certificate, or a secret that expires within the policy's lifetime (the "
                "finding's fix names the days), then remove the long-lived one.",
    references=(refs.ADD_CREDENTIALS, refs.PASSWORD_CREDENTIAL),
)
def secret_lifetime(ctx: Context, integration: Integration) -> Iterator[Result]:
    application = require_registration(ctx, integration)
    limit = ctx.policy.max_secret_lifetime_days
    # One day of slack: a 12-month secret spanning 29 February lasts 366 days.
    secrets = [c for c in application.credentials if c.kind == "secret" and c.end > ctx.now]
    for cred in secrets:
        lifetime = (cred.end - cred.start) / timedelta(days=1)
        evidence = {**describe(cred, ctx.now), "lifetime_days": round(lifetime, 2), "max_days": limit}
        resource = f"{integration.app_id}/{cred.key_id}"
        if cred.end - cred.start > timedelta(days=limit + 1):
            yield failed(resource, f"secret {cred.display_name!r} lives {lifetime:.0f} days (policy {limit})", evidence)
        else:
            yield passed(resource, f"secret {cred.display_name!r} lives {lifetime:.0f} days", evidence)
    if not secrets:
        yield passed(integration.app_id, "no unexpired client secret")


@check(
    id="CRED-005",
    title="The app authenticates with a certificate, not a client secret",
    severity=Severity.LOW,
    needs=("graph.applications", "graph.servicePrincipals"),
    rationale="A secret is a password that can be copied from a config file; a certificate's private key can "
              "stay in a key store.",
    remediation="Upload a certificate under Certificates & secrets, switch the service to it, then remove the "
                "client secret.",
    references=(refs.ADD_CREDENTIALS,),
)
def certificate_not_secret(ctx: Context, integration: Integration) -> Iterator[Result]:
    application = require_registration(ctx, integration)
    creds = application.credentials
    if not any(c.is_valid(ctx.now) for c in creds):
        yield skipped(integration.app_id, "no valid credential (see CRED-001)")
        return
    secrets = [c for c in creds if c.kind == "secret" and c.end > ctx.now]
    evidence = {"secrets": [describe(c, ctx.now) for c in secrets]}
    if secrets:
        yield failed(integration.app_id, f"{len(secrets)} unexpired client secret(s)", evidence)
    else:
        yield passed(integration.app_id, "authenticates with certificates only", evidence)


@check(
    id="CRED-006",
    title="The service principal carries no credentials of its own",
    severity=Severity.HIGH,
    needs=("graph.applications", "graph.servicePrincipals"),
    rationale="Credentials added to the service principal (not the registration) do not show on the app "
              "registration page: a classic persistence trick after a compromise.",
    remediation="Remove them: Remove-MgServicePrincipalPassword / Remove-MgServicePrincipalKey, then rotate "
                "the app's own credentials.",
    references=(refs.SERVICE_PRINCIPAL, refs.PASSWORD_CREDENTIAL),
)
def no_sp_credentials(ctx: Context, integration: Integration) -> Iterator[Result]:
    sp = require_app(ctx, integration)
    creds = sp.credentials
    evidence = {"credentials": [describe(c, ctx.now) for c in creds]}
    if creds:
        kinds = sorted({c.kind for c in creds})
        yield failed(integration.app_id, f"the service principal holds {len(creds)} credential(s) "
                                         f"({', '.join(kinds)})", evidence)
    else:
        yield passed(integration.app_id, "the service principal holds no credential", evidence)
