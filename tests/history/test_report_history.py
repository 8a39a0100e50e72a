"""The report's history parts from findings.json alone: round trip, escaping, determinism, the trend chart."""

from __future__ import annotations

import dataclasses
import json

from auditor.history.drift import compare
from auditor.models.findings import FindingsDocument, RunRef, Severity, Status, TrendPoint
from auditor.reports import html_report, json_report
from tests.history.support import document, finding, sample
from tests.reports.conftest import escaped, payload


def with_history(doc: FindingsDocument) -> FindingsDocument:
    old = [finding("GRP-002", payload(80), Status.PASS, integration=payload(81)),
           finding("GRP-003", "gone@x", Status.FAIL)]
    new = [finding("GRP-002", payload(80), Status.FAIL, integration=payload(81), message=payload(82)),
           finding("CRED-005", "w", Status.WAIVED)]
    previous = RunRef(collected_at="2026-05-31T12:00:00Z", tenant_id="t", baseline_file="b.toml", run_id=7)
    trend = (TrendPoint("2026-05-30T12:00:00Z", {"critical": 4, "high": 1}, 0, run_id=6),
             TrendPoint("2026-05-31T12:00:00Z", {"critical": 2, "high": 3, "low": 1}, 2, run_id=7),
             TrendPoint("2026-06-01T12:00:00Z", {"critical": 0, "high": 1}, 0))
    base = document(*new)
    return dataclasses.replace(base, drift=compare(old, new, previous), trend=trend)


def test_drift_and_trend_round_trip_through_findings_json():
    doc = with_history(document())
    text = json_report.render(doc)
    again = FindingsDocument.from_dict(json.loads(text))
    assert again.drift == doc.drift and again.trend == doc.trend
    assert json_report.render(again) == text
    assert list(json.loads(text))[-2:] == ["drift", "history"]  # added after everything findings.json had


def test_drift_entries_are_escaped_and_linked_to_their_findings():
    doc = with_history(document())
    html = html_report.render(doc)
    for n in (80, 81, 82):
        assert escaped(n) in html, n
    assert payload(80) not in html and "<img" not in html
    since = html[html.index('<section id="since"'):]
    assert 'href="#f-0"' in since  # the new FAIL links to its row among all findings
    assert "Compared with run 7, collected 31 May 2026, 12:00 UTC" in since


def test_the_trend_chart_stacks_failures_by_severity_on_one_scale():
    html = html_report.render(with_history(document()))
    chart = html[html.index('<figure class="chart trend"'):html.index("</figure>", html.index('class="chart trend"'))]
    assert chart.count('<g class="trend-run">') == 3
    # The tallest column (5 failures: 4 critical + 1 high, or 2 + 3 + 1 = 6) fills the 150-unit plot height.
    assert '<text x="30" y="16" class="trend-tick">6</text>' in chart
    assert 'height="150" class="trend-' not in chart  # no single severity fills a column alone
    assert "this run" in chart and "<td>2</td>" in chart  # the data table lists the ERROR count too


def test_same_document_same_bytes_and_no_history_no_section():
    doc = with_history(document())
    assert html_report.render(doc) == html_report.render(doc)
    plain = sample()[1]
    html = html_report.render(plain)
    assert 'id="since"' not in html and "trend-run" not in html


def test_severity_of_a_gone_finding_comes_from_the_earlier_run():
    drift = compare([finding("A-1", "r", Status.FAIL, Severity.CRITICAL)], [], None)
    assert drift.resolved[0].severity is Severity.CRITICAL and drift.resolved[0].after is None
