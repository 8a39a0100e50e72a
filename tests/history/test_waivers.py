"""Waivers: active, expiring within 14 days, expired (saying since when), stale; in findings.json, the HTML
report and the exit code."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

from auditor.checks import credentials
from auditor.engine import evaluate, exit_code
from auditor.history.drift import compare, new_failures
from auditor.models.baseline import Waiver
from auditor.models.findings import FindingsDocument, Status
from auditor.pipeline import build_document
from auditor.reports import html_report, json_report
from tests.builders import APP, NOW, baseline, compliant_tenant, secret
from tests.reports.conftest import escaped, payload

TODAY = NOW.date()


def waiver(days: int, resource: str = APP, reason: str = "vendor supports client secrets only",
           check: str = "CRED-005") -> Waiver:
    return Waiver(check=check, resource=resource, reason=reason, expires=TODAY + timedelta(days=days))


def run(*waivers: Waiver) -> FindingsDocument:
    """CRED-005 alone, on a tenant whose app authenticates with a client secret: one FAIL before waivers."""
    b = compliant_tenant()
    b.data("graph.applications")[0]["passwordCredentials"] = [secret(-10, 200, name="live")]
    snapshot, base = b.build(), baseline(waivers=waivers)
    return build_document(snapshot, base, evaluate(snapshot, base, catalog=(credentials.certificate_not_secret,)))


def states(doc: FindingsDocument) -> list[tuple[str, str, int, bool]]:
    return [(w.expires, w.state, w.days_left, w.stale) for w in doc.waivers]


def section(html: str, anchor: str) -> str:
    match = re.search(rf'<div class="waiver-list" id="{anchor}">(.*?)</div>\s*(?=<div|</div>|<details)', html, re.S)
    assert match, anchor
    return match.group(1)


def test_an_active_waiver_waives_and_is_listed_as_active():
    doc = run(waiver(60))
    (f,) = doc.findings
    assert f.status is Status.WAIVED and f.waiver == {"reason": "vendor supports client secrets only",
                                                      "expires": str(TODAY + timedelta(days=60)), "expired": False}
    assert states(doc) == [(str(TODAY + timedelta(days=60)), "active", 60, False)]
    assert exit_code(doc.findings) == 0


def test_a_waiver_ending_within_14_days_is_listed_for_renewal():
    doc = run(waiver(14), waiver(15, resource="e7e4dbfc-*", reason="second"))
    assert [s[1:3] for s in states(doc)] == [("expiring", 14), ("active", 15)]
    assert doc.findings[0].status is Status.WAIVED and exit_code(doc.findings) == 0
    written = json.loads(json_report.render(doc))["waivers"]
    assert written[0] == {"check": "CRED-005", "resource": APP, "reason": "vendor supports client secrets only",
                          "expires": str(TODAY + timedelta(days=14)), "state": "expiring", "days_left": 14,
                          "matched": 1, "stale": False}
    html = html_report.render(doc)
    expiring = section(html, "waivers-expiring")
    assert "ends in 14 days" in expiring and "second" not in expiring


def test_an_expired_waiver_stops_applying_and_the_finding_says_on_which_date():
    doc = run(waiver(-3))
    (f,) = doc.findings
    expired_on = str(TODAY - timedelta(days=3))
    assert f.status is Status.FAIL and f.message.endswith(f"(waiver expired on {expired_on})")
    assert states(doc) == [(expired_on, "expired", -3, False)]
    assert exit_code(doc.findings) == 1
    html = html_report.render(doc)
    assert "expired 3 days ago" in section(html, "waivers-expired")
    assert f"waiver expired on {expired_on}" in html


def test_a_waiver_that_matches_no_failing_finding_is_stale():
    doc = run(waiver(60), waiver(60, resource="no-such-app"), waiver(60, check="CRED-001"))
    assert [w.stale for w in doc.waivers] == [False, True, True]
    assert [w.matched for w in doc.waivers] == [1, 0, 0]
    stale = section(html_report.render(doc), "waivers-stale")
    assert stale.count('class="waiver-row') == 2
    assert "no-such-app" in stale and "CRED-001" in stale
    assert "CRED-005</span></td>\n      <td class=\"mono res\">e7" not in stale


def test_waiver_fields_are_escaped_in_the_report():
    doc = run(waiver(5, reason=payload(70), resource=payload(71)))
    html = html_report.render(doc)
    assert escaped(70) in html and escaped(71) in html and payload(70) not in html


def test_no_waivers_no_waiver_key_and_no_section():
    doc = run()
    assert "waivers" not in json.loads(json_report.render(doc))
    assert 'id="waivers"' not in html_report.render(doc)


def test_fail_on_new_honours_waivers_and_expiry():
    waived, expired = run(waiver(60)), run(waiver(-1))
    # Waived in the last run, its waiver expired since: the FAIL is new, and gates.
    drift = compare(waived.findings, expired.findings, None)
    assert exit_code(expired.findings, only=new_failures(drift)) == 1
    # FAIL in both runs: known, so --fail-on-new lets it pass; plain --fail-on does not.
    drift = compare(expired.findings, expired.findings, None)
    assert exit_code(expired.findings, only=new_failures(drift)) == 0 and exit_code(expired.findings) == 1


def test_round_trip_through_findings_json_keeps_the_waiver_states():
    doc = run(waiver(3), waiver(-2), waiver(30, resource="gone"))
    again = FindingsDocument.from_dict(json.loads(json_report.render(doc)))
    assert again.waivers == doc.waivers and json_report.render(again) == json_report.render(doc)
    assert isinstance(date.fromisoformat(again.waivers[0].expires), date)
