"""CRED-001..006, derived from the catalog (docs/checks.md).

"Now" is the snapshot's collected_at (builders.NOW). A credential is valid when startDateTime <= now < endDateTime.
Credentials are named for the verdict they must get; per-item resources are `appId/keyId`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from auditor.checks import credentials
from auditor.checks.base import CheckSpec
from auditor.models.baseline import PolicyConfig, Waiver
from auditor.models.findings import Status
from auditor.models.timeutil import format_datetime
from tests.builders import (
    APP,
    NOW,
    OTHER_APP,
    TENANT_ID,
    SnapshotBuilder,
    baseline,
    compliant_tenant,
    integration,
    run_check,
    user_owner,
)

PASS, FAIL, ERROR, SKIP = Status.PASS, Status.FAIL, Status.ERROR, Status.SKIP
DAY, SECOND = timedelta(days=1), timedelta(seconds=1)
VENDOR_TENANT = "99999999-8888-7777-6666-555555555555"
PUBLISHER = "registered in the publisher's tenant"

APP_CHECKS = (credentials.has_valid_credential, credentials.credentials_not_expiring,
              credentials.no_expired_credentials, credentials.secret_lifetime, credentials.certificate_not_secret)
ALL_CHECKS = (*APP_CHECKS, credentials.no_sp_credentials)


# -- helpers -----------------------------------------------------------------------------------------------

def key(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"credential/{name}"))


def item(name: str) -> str:
    """The resource of a per-item credential finding."""
    return f"{APP}/{key(name)}"


def _moment(value: timedelta | datetime) -> str:
    return format_datetime(value if isinstance(value, datetime) else NOW + value)


def pwd(name: str, start: timedelta | datetime, end: timedelta | datetime) -> dict[str, Any]:
    """A passwordCredential (client secret); timedeltas are relative to NOW."""
    return {"keyId": key(name), "displayName": name, "startDateTime": _moment(start), "endDateTime": _moment(end),
            "hint": "abc", "customKeyIdentifier": None, "secretText": None}


def crt(name: str, start: timedelta | datetime, end: timedelta | datetime) -> dict[str, Any]:
    """A keyCredential (certificate)."""
    return {"keyId": key(name), "displayName": name, "startDateTime": _moment(start), "endDateTime": _moment(end),
            "type": "AsymmetricX509Cert", "usage": "Verify", "key": None}


def tenant(secrets: tuple[dict[str, Any], ...] = (), certs: tuple[dict[str, Any], ...] = (), *,
           sp_secrets: tuple[dict[str, Any], ...] = (), sp_certs: tuple[dict[str, Any], ...] = ()) -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.app(APP, credentials=list(secrets), certificates=list(certs), owners=[user_owner("owner@contoso.com")])
    sp = sp_object(b)
    sp["passwordCredentials"], sp["keyCredentials"] = list(sp_secrets), list(sp_certs)
    return b


def app_object(b: SnapshotBuilder, app_id: str = APP) -> dict[str, Any]:
    return next(a for a in b.data("graph.applications") if a["appId"] == app_id)


def sp_object(b: SnapshotBuilder, app_id: str = APP) -> dict[str, Any]:
    return next(s for s in b.data("graph.servicePrincipals") if s["appId"] == app_id)


def run(spec: CheckSpec, b: SnapshotBuilder, policy: PolicyConfig | None = None) -> Any:
    return run_check(spec, b, baseline(integration(), policy=policy))


VALID = pwd("valid", -30 * DAY, 300 * DAY)


def vendor_tenant(sp_secrets: tuple[dict[str, Any], ...] = ()) -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.app(APP, application=False, owner_org=VENDOR_TENANT, sp_credentials=list(sp_secrets))
    return b


def no_service_principal() -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.app(APP, service_principal=False, credentials=[VALID])
    return b


def disabled_service_principal() -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.app(APP, enabled=False, credentials=[VALID], sp_credentials=[pwd("sp", -1 * DAY, 30 * DAY)])
    return b


def application_object_gone() -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.app(APP, application=False, owner_org=TENANT_ID, sp_credentials=[pwd("sp", -1 * DAY, 30 * DAY)])
    return b


APP_001_FAILURES = (no_service_principal, disabled_service_principal, application_object_gone)


# -- gating: APP-001, vendor apps, missing data ---------------------------------------------------------

@pytest.mark.parametrize("make", APP_001_FAILURES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("spec", ALL_CHECKS, ids=lambda s: s.id)
def test_skip_when_app001_fails(spec, make):
    out = run(spec, make())
    assert out.by_resource() == {APP: SKIP}
    assert PUBLISHER not in out.only().message


@pytest.mark.parametrize("spec", APP_CHECKS, ids=lambda s: s.id)
def test_application_credential_checks_skip_for_vendor_app(spec):
    out = run(spec, vendor_tenant())
    assert out.by_resource() == {APP: SKIP}
    assert PUBLISHER in out.only().message


def test_cred006_runs_for_vendor_app():
    assert run(credentials.no_sp_credentials, vendor_tenant()).by_resource() == {APP: PASS}
    vendor = vendor_tenant(sp_secrets=(pwd("fail-vendor-sp-secret", -1 * DAY, 30 * DAY),))
    assert run(credentials.no_sp_credentials, vendor).by_resource() == {APP: FAIL}


def _drop_apps(b): b.drop("graph.applications")
def _fail_apps(b): b.fail("graph.applications")
def _apps_not_asked(b): b.queried("graph.applications", [OTHER_APP])
def _drop_sps(b): b.drop("graph.servicePrincipals")
def _fail_sps(b): b.fail("graph.servicePrincipals")
def _no_end(b): del app_object(b)["passwordCredentials"][0]["endDateTime"]
def _no_start(b): del app_object(b)["passwordCredentials"][0]["startDateTime"]
def _bad_end(b): app_object(b)["passwordCredentials"][0]["endDateTime"] = "next Tuesday"
def _no_key_id(b): del app_object(b)["passwordCredentials"][0]["keyId"]
def _no_password_list(b): del app_object(b)["passwordCredentials"]
def _no_key_list(b): del app_object(b)["keyCredentials"]
def _no_cert_end(b): del app_object(b)["keyCredentials"][0]["endDateTime"]


APP_DAMAGE = {_drop_apps: "graph.applications", _fail_apps: "graph.applications", _apps_not_asked: "graph.applications",
              _drop_sps: "graph.servicePrincipals", _fail_sps: "graph.servicePrincipals", _no_end: "endDateTime",
              _no_start: "startDateTime", _bad_end: "endDateTime", _no_key_id: "keyId",
              _no_password_list: "passwordCredentials", _no_key_list: "keyCredentials", _no_cert_end: "endDateTime"}


@pytest.mark.parametrize("damage", list(APP_DAMAGE), ids=lambda f: f.__name__)
@pytest.mark.parametrize("spec", APP_CHECKS, ids=lambda s: s.id)
def test_error_when_application_credential_data_is_missing(spec, damage):
    b = tenant((pwd("valid", -30 * DAY, 300 * DAY),), (crt("cert", -30 * DAY, 300 * DAY),))
    damage(b)
    out = run(spec, b)
    assert out.by_resource() == {APP: ERROR}
    assert APP_DAMAGE[damage] in out.only().message


# -- CRED-001 ----------------------------------------------------------------------------------------------

def test_cred001_pass_valid_secret():
    assert run(credentials.has_valid_credential, tenant((VALID,))).by_resource() == {APP: PASS}


def test_cred001_pass_valid_certificate_only():
    b = tenant(certs=(crt("pass-cert", -30 * DAY, 300 * DAY),))
    assert run(credentials.has_valid_credential, b).by_resource() == {APP: PASS}


def test_cred001_pass_one_valid_among_expired():
    b = tenant((pwd("expired", -400 * DAY, -10 * DAY), pwd("pass-valid", -10 * DAY, 10 * DAY)))
    assert run(credentials.has_valid_credential, b).by_resource() == {APP: PASS}


def test_cred001_pass_valid_from_the_moment_it_starts():
    b = tenant((pwd("pass-starts-now", timedelta(0), 30 * DAY),))
    assert run(credentials.has_valid_credential, b).by_resource() == {APP: PASS}


def test_cred001_pass_valid_until_the_last_second():
    b = tenant((pwd("pass-ends-in-a-second", -30 * DAY, SECOND),))
    assert run(credentials.has_valid_credential, b).by_resource() == {APP: PASS}


def test_cred001_fail_no_credential():
    assert run(credentials.has_valid_credential, tenant()).by_resource() == {APP: FAIL}


def test_cred001_fail_ends_exactly_now():
    b = tenant((pwd("fail-ends-now", -30 * DAY, timedelta(0)),))
    assert run(credentials.has_valid_credential, b).by_resource() == {APP: FAIL}


def test_cred001_fail_only_expired():
    b = tenant((pwd("fail-expired", -400 * DAY, -10 * DAY),), (crt("fail-expired-cert", -400 * DAY, -DAY),))
    assert run(credentials.has_valid_credential, b).by_resource() == {APP: FAIL}


def test_cred001_fail_not_yet_valid():
    b = tenant((pwd("fail-starts-in-a-second", SECOND, 300 * DAY),), (crt("fail-future-cert", DAY, 300 * DAY),))
    assert run(credentials.has_valid_credential, b).by_resource() == {APP: FAIL}


def test_cred001_fail_service_principal_credentials_do_not_count():
    b = tenant(sp_secrets=(pwd("sp-secret", -DAY, 300 * DAY),), sp_certs=(crt("sp-cert", -DAY, 300 * DAY),))
    assert run(credentials.has_valid_credential, b).by_resource() == {APP: FAIL}


# -- CRED-002 ----------------------------------------------------------------------------------------------

def test_cred002_pass_latest_credential_beyond_window():
    assert run(credentials.credentials_not_expiring, tenant((VALID,))).by_resource() == {APP: PASS}


def test_cred002_pass_rotation_done_latest_ending_counts():
    b = tenant((pwd("old", -300 * DAY, 5 * DAY), pwd("new", -DAY, 364 * DAY)))
    assert run(credentials.credentials_not_expiring, b).by_resource() == {APP: PASS}


def test_cred002_pass_just_outside_window():
    b = tenant((pwd("pass-30d-and-a-second", -300 * DAY, 30 * DAY + SECOND),))
    assert run(credentials.credentials_not_expiring, b).by_resource() == {APP: PASS}


def test_cred002_fail_ends_within_window():
    b = tenant((pwd("fail-10d", -300 * DAY, 10 * DAY),))
    assert run(credentials.credentials_not_expiring, b).by_resource() == {APP: FAIL}


def test_cred002_fail_ends_at_the_window_edge():
    b = tenant((pwd("fail-30d", -300 * DAY, 30 * DAY),))
    assert run(credentials.credentials_not_expiring, b).by_resource() == {APP: FAIL}


def test_cred002_fail_certificate_within_window():
    b = tenant(certs=(crt("fail-cert-1d", -300 * DAY, DAY),))
    assert run(credentials.credentials_not_expiring, b).by_resource() == {APP: FAIL}


def test_cred002_fail_not_yet_valid_successor_does_not_count():
    b = tenant((pwd("fail-10d", -300 * DAY, 10 * DAY), pwd("future", 20 * DAY, 400 * DAY)))
    assert run(credentials.credentials_not_expiring, b).by_resource() == {APP: FAIL}


def test_cred002_fail_service_principal_credentials_do_not_count():
    b = tenant((pwd("fail-10d", -300 * DAY, 10 * DAY),), sp_secrets=(pwd("sp", -DAY, 300 * DAY),))
    assert run(credentials.credentials_not_expiring, b).by_resource() == {APP: FAIL}


@pytest.mark.parametrize(("days_left", "status"), [(59, FAIL), (60, FAIL), (61, PASS)])
def test_cred002_uses_the_configured_warning_window(days_left, status):
    b = tenant((pwd(f"{status}-{days_left}d", -300 * DAY, days_left * DAY),))
    out = run(credentials.credentials_not_expiring, b, PolicyConfig(credential_warning_days=60))
    assert out.by_resource() == {APP: status}


@pytest.mark.parametrize("creds", [
    (),
    (pwd("expired", -400 * DAY, -DAY),),
    (pwd("not-yet-valid", DAY, 300 * DAY),),
    (pwd("ends-now", -300 * DAY, timedelta(0)),),
], ids=["none", "expired", "not-yet-valid", "ends-now"])
def test_cred002_skip_when_no_credential_is_valid(creds):
    assert run(credentials.credentials_not_expiring, tenant(creds)).by_resource() == {APP: SKIP}


# -- CRED-003 ----------------------------------------------------------------------------------------------

def test_cred003_pass_once_for_the_app_when_nothing_expired():
    b = tenant((pwd("valid", -30 * DAY, 300 * DAY), pwd("future", DAY, 300 * DAY)), (crt("cert", -DAY, DAY),))
    assert run(credentials.no_expired_credentials, b).by_resource() == {APP: PASS}


def test_cred003_pass_without_any_credential():
    assert run(credentials.no_expired_credentials, tenant()).by_resource() == {APP: PASS}


def test_cred003_fail_each_expired_credential_valid_ones_get_no_finding():
    b = tenant((pwd("fail-expired-secret", -400 * DAY, -DAY), pwd("valid", -30 * DAY, 300 * DAY)),
               (crt("fail-expired-cert", -800 * DAY, -400 * DAY),))
    out = run(credentials.no_expired_credentials, b)
    assert out.by_resource() == {item("fail-expired-secret"): FAIL, item("fail-expired-cert"): FAIL}


def test_cred003_fail_credential_ending_exactly_now():
    b = tenant((pwd("fail-ends-now", -30 * DAY, timedelta(0)),))
    assert run(credentials.no_expired_credentials, b).by_resource() == {item("fail-ends-now"): FAIL}


def test_cred003_pass_credential_ending_in_a_second():
    b = tenant((pwd("ends-in-a-second", -30 * DAY, SECOND),))
    assert run(credentials.no_expired_credentials, b).by_resource() == {APP: PASS}


def test_cred003_resource_uses_lower_case_key_id():
    secret = pwd("fail-upper", -400 * DAY, -DAY)
    secret["keyId"] = secret["keyId"].upper()
    assert run(credentials.no_expired_credentials, tenant((secret,))).by_resource() == {item("fail-upper"): FAIL}


def test_cred003_pass_service_principal_credentials_not_read():
    b = tenant(sp_secrets=(pwd("sp-expired", -400 * DAY, -DAY),))
    assert run(credentials.no_expired_credentials, b).by_resource() == {APP: PASS}


# -- CRED-004 ----------------------------------------------------------------------------------------------

def test_cred004_per_secret_366_days_passes_367_fails():
    b = tenant((pwd("pass-366", -DAY, 365 * DAY), pwd("fail-367", -DAY, 366 * DAY)))
    out = run(credentials.secret_lifetime, b)
    assert out.by_resource() == {item("pass-366"): PASS, item("fail-367"): FAIL}


def test_cred004_boundary_exactly_one_day_over_passes_a_second_more_fails():
    b = tenant((pwd("pass-366d", -10 * DAY, 356 * DAY), pwd("fail-366d-1s", -10 * DAY, 356 * DAY + SECOND)))
    out = run(credentials.secret_lifetime, b)
    assert out.by_resource() == {item("pass-366d"): PASS, item("fail-366d-1s"): FAIL}


def test_cred004_pass_twelve_month_secret_spanning_29_february():
    start, end = datetime(2027, 9, 1, tzinfo=UTC), datetime(2028, 9, 1, tzinfo=UTC)  # 366 days, not yet valid
    assert end - start == 366 * DAY
    out = run(credentials.secret_lifetime, tenant((pwd("pass-leap-year", start, end),)))
    assert out.by_resource() == {item("pass-leap-year"): PASS}


def test_cred004_fail_not_yet_valid_secret_is_judged():
    b = tenant((pwd("fail-future-400", 10 * DAY, 410 * DAY), pwd("pass-future-100", 10 * DAY, 110 * DAY)))
    out = run(credentials.secret_lifetime, b)
    assert out.by_resource() == {item("fail-future-400"): FAIL, item("pass-future-100"): PASS}


def test_cred004_expired_secrets_are_not_judged():
    b = tenant((pwd("expired-1000", -1000 * DAY, -DAY), pwd("ends-now-1000", -1000 * DAY, timedelta(0)),
                pwd("pass-30", -DAY, 29 * DAY)))
    assert run(credentials.secret_lifetime, b).by_resource() == {item("pass-30"): PASS}


def test_cred004_pass_once_for_the_app_when_only_expired_secrets():
    b = tenant((pwd("expired-1000", -1000 * DAY, -DAY),))
    assert run(credentials.secret_lifetime, b).by_resource() == {APP: PASS}


def test_cred004_pass_once_for_the_app_with_long_lived_certificate_only():
    b = tenant(certs=(crt("three-year-cert", -DAY, 3 * 365 * DAY),))
    assert run(credentials.secret_lifetime, b).by_resource() == {APP: PASS}


def test_cred004_pass_service_principal_secrets_not_read():
    b = tenant(sp_secrets=(pwd("sp-1000", -DAY, 999 * DAY),))
    assert run(credentials.secret_lifetime, b).by_resource() == {APP: PASS}


def test_cred004_uses_the_configured_maximum():
    b = tenant((pwd("pass-91", -DAY, 90 * DAY), pwd("fail-92", -DAY, 91 * DAY)))
    out = run(credentials.secret_lifetime, b, PolicyConfig(max_secret_lifetime_days=90))
    assert out.by_resource() == {item("pass-91"): PASS, item("fail-92"): FAIL}


def test_cred004_fail_two_year_secret():
    b = tenant((pwd("fail-two-years", -100 * DAY, 630 * DAY),))
    assert run(credentials.secret_lifetime, b).by_resource() == {item("fail-two-years"): FAIL}


# -- CRED-005 ----------------------------------------------------------------------------------------------

def test_cred005_pass_certificate_only():
    b = tenant(certs=(crt("pass-cert", -DAY, 300 * DAY),))
    assert run(credentials.certificate_not_secret, b).by_resource() == {APP: PASS}


def test_cred005_pass_expired_secret_beside_certificate():
    b = tenant((pwd("expired", -400 * DAY, -DAY), pwd("ends-now", -400 * DAY, timedelta(0))),
               (crt("pass-cert", -DAY, 300 * DAY),))
    assert run(credentials.certificate_not_secret, b).by_resource() == {APP: PASS}


def test_cred005_pass_service_principal_secret_not_read():
    b = tenant(certs=(crt("pass-cert", -DAY, 300 * DAY),), sp_secrets=(pwd("sp", -DAY, 300 * DAY),))
    assert run(credentials.certificate_not_secret, b).by_resource() == {APP: PASS}


def test_cred005_fail_valid_secret_only():
    assert run(credentials.certificate_not_secret, tenant((VALID,))).by_resource() == {APP: FAIL}


def test_cred005_fail_secret_beside_certificate():
    b = tenant((pwd("fail-secret", -DAY, 300 * DAY),), (crt("cert", -DAY, 300 * DAY),))
    assert run(credentials.certificate_not_secret, b).by_resource() == {APP: FAIL}


def test_cred005_fail_not_yet_valid_secret_is_unexpired():
    b = tenant((pwd("fail-future-secret", 10 * DAY, 300 * DAY),), (crt("cert", -DAY, 300 * DAY),))
    assert run(credentials.certificate_not_secret, b).by_resource() == {APP: FAIL}


@pytest.mark.parametrize("creds", [
    ((), ()),
    ((pwd("expired", -400 * DAY, -DAY),), ()),
    ((pwd("not-yet-valid", DAY, 300 * DAY),), ()),
    ((pwd("not-yet-valid", DAY, 300 * DAY),), (crt("expired-cert", -400 * DAY, -DAY),)),
], ids=["none", "expired-secret", "not-yet-valid-secret", "future-secret-expired-cert"])
def test_cred005_skip_when_no_credential_is_valid(creds):
    assert run(credentials.certificate_not_secret, tenant(*creds)).by_resource() == {APP: SKIP}


# -- CRED-006 ----------------------------------------------------------------------------------------------

def test_cred006_pass_service_principal_without_credentials():
    b = tenant((VALID,), (crt("app-cert", -DAY, 300 * DAY),))
    assert run(credentials.no_sp_credentials, b).by_resource() == {APP: PASS}


def test_cred006_pass_compliant_tenant():
    assert run(credentials.no_sp_credentials, compliant_tenant()).by_resource() == {APP: PASS}


@pytest.mark.parametrize("sp_creds", [
    {"sp_secrets": (pwd("fail-sp-secret", -DAY, 300 * DAY),)},
    {"sp_certs": (crt("fail-sp-cert", -DAY, 300 * DAY),)},
    {"sp_secrets": (pwd("fail-sp-expired", -400 * DAY, -DAY),)},
    {"sp_certs": (crt("fail-sp-future-cert", DAY, 300 * DAY),)},
], ids=["secret", "certificate", "expired-secret", "not-yet-valid-certificate"])
def test_cred006_fail_service_principal_holds_a_credential(sp_creds):
    b = tenant(certs=(crt("app-cert", -DAY, 300 * DAY),), **sp_creds)
    assert run(credentials.no_sp_credentials, b).by_resource() == {APP: FAIL}


def _no_sp_passwords(b): del sp_object(b)["passwordCredentials"]
def _no_sp_keys(b): del sp_object(b)["keyCredentials"]
def _sp_not_asked(b): b.queried("graph.servicePrincipals", [OTHER_APP])
def _sp_cred_no_end(b):
    sp_object(b)["passwordCredentials"] = [pwd("sp", -DAY, 30 * DAY)]
    del sp_object(b)["passwordCredentials"][0]["endDateTime"]


@pytest.mark.parametrize("damage", [_drop_sps, _fail_sps, _sp_not_asked, _no_sp_passwords, _no_sp_keys,
                                    _sp_cred_no_end], ids=lambda f: f.__name__)
def test_cred006_error_when_data_is_missing(damage):
    b = tenant((VALID,))
    damage(b)
    assert run(credentials.no_sp_credentials, b).by_resource() == {APP: ERROR}


# -- evidence, provenance, waivers -------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "snapshot", "section"), [
    (credentials.has_valid_credential, lambda: tenant((pwd("fail-expired", -400 * DAY, -DAY),)),
     "graph.applications"),
    (credentials.credentials_not_expiring, lambda: tenant((pwd("fail-10d", -300 * DAY, 10 * DAY),)),
     "graph.applications"),
    (credentials.no_expired_credentials, lambda: tenant((pwd("fail-expired", -400 * DAY, -DAY),)),
     "graph.applications"),
    (credentials.secret_lifetime, lambda: tenant((pwd("fail-two-years", -DAY, 729 * DAY),)), "graph.applications"),
    (credentials.certificate_not_secret, lambda: tenant((VALID,)), "graph.applications"),
    (credentials.no_sp_credentials, lambda: tenant(sp_secrets=(VALID,)), "graph.servicePrincipals"),
], ids=lambda v: getattr(v, "id", None))
def test_failure_carries_evidence_and_names_its_source(spec, snapshot, section):
    finding = run(spec, snapshot()).only()
    assert finding.status is FAIL
    assert finding.evidence
    assert f"{section}: test:{section}" in finding.provenance


def test_cred004_per_item_evidence_shows_dates_of_the_judged_secret():
    finding = run(credentials.secret_lifetime, tenant((pwd("fail-two-years", -DAY, 729 * DAY),))).only()
    assert finding.resource == item("fail-two-years")
    assert format_datetime(NOW - DAY) in finding.evidence.values()
    assert format_datetime(NOW + 729 * DAY) in finding.evidence.values()


def _waived(expires: str) -> Any:
    waiver = Waiver(check="CRED-005", resource=APP, reason="Vendor supports client secrets only",
                    expires=date.fromisoformat(expires))
    return run_check(credentials.certificate_not_secret, tenant((VALID,)), baseline(integration(), waivers=(waiver,)))


def test_cred005_fail_waived_by_app_id_until_the_waiver_expires():
    assert _waived("2027-03-31").by_resource() == {APP: Status.WAIVED}


def test_cred005_expired_waiver_no_longer_applies_and_says_so():
    out = _waived("2026-05-31")
    assert out.by_resource() == {APP: FAIL}
    assert "expired" in out.only().message


def test_cred003_per_item_waiver_by_glob():
    b = tenant((pwd("waived-old", -400 * DAY, -DAY),))
    waiver = Waiver(check="CRED-003", resource=f"{APP}/*", reason="cleanup ticket", expires=date(2027, 1, 1))
    out = run_check(credentials.no_expired_credentials, b, baseline(integration(), waivers=(waiver,)))
    assert out.by_resource() == {item("waived-old"): Status.WAIVED}
