"""The engine: waivers, errors that never crash, determinism, exit codes."""

from dataclasses import replace
from datetime import date

from auditor.checks import app, credentials
from auditor.checks.base import check
from auditor.engine import evaluate, exit_code
from auditor.models.baseline import Waiver
from auditor.models.findings import Severity, Status
from tests.builders import APP, NOW, SnapshotBuilder, baseline, compliant_tenant, run_check, secret


def _secret_tenant() -> SnapshotBuilder:
    b = compliant_tenant()
    b.data("graph.applications")[0]["passwordCredentials"] = [secret(-10, 200, name="live")]
    return b


def test_unexpired_waiver_turns_fail_into_waived_with_its_reason():
    waiver = Waiver(check="CRED-005", resource=APP, reason="vendor supports secrets only",
                    expires=date(2026, 12, 31))
    out = run_check(credentials.certificate_not_secret, _secret_tenant(), baseline(waivers=(waiver,)))
    finding = out.only()
    assert finding.status is Status.WAIVED
    assert finding.waiver == {"reason": "vendor supports secrets only", "expires": "2026-12-31", "expired": False}


def test_waiver_matches_resource_globs_and_is_valid_through_its_expiry_day():
    waiver = Waiver(check="CRED-005", resource="e7e4dbfc-*", reason="r", expires=NOW.date())
    out = run_check(credentials.certificate_not_secret, _secret_tenant(), baseline(waivers=(waiver,)))
    assert out.only().status is Status.WAIVED


def test_expired_waiver_no_longer_applies_and_says_when_it_expired():
    waiver = Waiver(check="CRED-005", resource=APP, reason="r", expires=date(2026, 5, 31))
    finding = run_check(credentials.certificate_not_secret, _secret_tenant(), baseline(waivers=(waiver,))).only()
    assert finding.status is Status.FAIL
    assert "waiver expired on 2026-05-31" in finding.message
    assert finding.waiver and finding.waiver["expired"] is True


def test_waiver_for_another_check_or_resource_does_not_apply():
    waivers = (Waiver(check="CRED-003", resource=APP, reason="r", expires=date(2027, 1, 1)),
               Waiver(check="CRED-005", resource="someone-else", reason="r", expires=date(2027, 1, 1)))
    out = run_check(credentials.certificate_not_secret, _secret_tenant(), baseline(waivers=waivers))
    assert out.only().status is Status.FAIL


def test_a_check_that_raises_gives_one_error_finding_and_the_run_goes_on():
    @check(id="BUG-001", title="t", severity=Severity.LOW, needs=("graph.applications",), rationale="r",
           remediation="r", references=("https://example.invalid",))
    def broken(ctx, integration):
        yield from ()
        raise ZeroDivisionError("boom")

    result = evaluate(compliant_tenant().build(), baseline(), catalog=(broken, app.app_exists))
    statuses = [(f.check_id, f.status) for f in result.findings]
    assert statuses == [("BUG-001", Status.ERROR), ("APP-001", Status.PASS)]
    assert "ZeroDivisionError: boom" in result.findings[0].message


def test_missing_and_errored_sections_give_error_naming_the_section_never_pass():
    b = compliant_tenant()
    b.fail("graph.applications", "HTTP 403 Authorization_RequestDenied")
    finding = run_check(app.app_exists, b).only()
    assert finding.status is Status.ERROR
    assert "graph.applications" in finding.message and "Authorization_RequestDenied" in finding.message
    b = compliant_tenant()
    b.drop("graph.servicePrincipals")
    assert run_check(app.app_exists, b).only().status is Status.ERROR


def test_exchange_switched_off_gives_skip_saying_why():
    b = compliant_tenant()
    b.collection["exchange_transport"] = "none"
    for name in list(b.sections):
        if name.startswith("exchange."):
            b.sections[name].update(status="not_collected", error="transport none", data=None)
    from auditor.checks import group

    finding = run_check(group.group_is_security_group, b).only()
    assert finding.status is Status.SKIP and "transport" in finding.message


def test_findings_carry_provenance_of_the_sections_read():
    finding = run_check(app.app_exists, compliant_tenant()).only()
    assert any(p.startswith("graph.servicePrincipals") for p in finding.provenance)
    assert any(p.startswith("graph.applications") for p in finding.provenance)


def test_evaluation_is_deterministic_and_uses_collected_at_as_now():
    snap = compliant_tenant().build()
    first = evaluate(snap, baseline())
    assert first == evaluate(snap, baseline())
    later = replace(snap, collected_at=snap.collected_at.replace(year=2028))
    expired = [f for f in evaluate(later, baseline()).findings if f.check_id == "CRED-001"]
    assert expired[0].status is Status.FAIL  # the certificate has expired by 2028


def test_exit_code_order_error_beats_fail_and_fail_on_threshold():
    result = evaluate(_secret_tenant().build(), baseline())
    findings = list(result.findings)
    assert exit_code(findings) == 1  # CRED-005 (low) fails
    assert exit_code(findings, Severity.MEDIUM) == 0
    errored = replace(findings[0], status=Status.ERROR)
    assert exit_code([errored, *findings]) == 3
    assert exit_code([f for f in findings if f.status is Status.PASS]) == 0
