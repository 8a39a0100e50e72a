"""The demo's report.html as a reader meets it: the risk in words first, at desktop and phone width, on paper.

Screenshots (1,400 and 390 px: the top, one integration, the findings filtered to FAIL) are written to a temp
directory for a person to look at; the assertions are what a reader would notice: no sideways page scroll on a
phone, the worst app and its reach in the first sentence, criticals first, at most 8 A4 pages printed.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.models.findings import FindingsDocument, Severity, Status, load_findings
from auditor.reports import html_report, portfolio_report
from auditor.reports.html_headline import error_causes, headline
from tests.reports.test_browser import browser  # noqa: F401  (the shared Chromium fixture)

SHOTS = ("top", "integration", "fails")


@pytest.fixture(scope="module")
def demo_doc(tmp_path_factory) -> FindingsDocument:
    out = tmp_path_factory.mktemp("demo")
    with pytest.raises(SystemExit):
        main(["demo", "--out", str(out), "--quiet", "-f", "json"])
    return load_findings(out / "findings.json")


@pytest.fixture(scope="module")
def demo_report(demo_doc, tmp_path_factory) -> Path:
    return html_report.write(demo_doc, tmp_path_factory.mktemp("report"))


# --- the headline, without a browser -------------------------------------------------------------------------

def test_the_first_sentence_names_the_worst_app_and_its_reach(demo_doc):
    first = headline(demo_doc.findings, demo_doc.inventory).sentences[0]
    assert first.subject == "Ticketing"  # reads and changes all 26 mailboxes, 23 beyond its queues
    assert first.text.startswith("can read and change all 26 mailboxes (23 beyond its queue mailboxes): ")
    html = html_report.render(demo_doc)
    headline_html = html[html.index('id="headline"'):html.index('id="summary"')]
    assert "Ticketing</strong> can read and change all 26 mailboxes" in headline_html
    assert "Mail Reporting</strong> can read all 26 mailboxes" in headline_html  # the unscoped tenant app
    assert headline_html.index("Ticketing") < headline_html.index("Mail Reporting")
    assert "SCOPE-005" not in headline_html, "consequences of a root cause are counted, not listed"
    assert "23 further findings follow from it" in headline_html


def test_groups_come_worst_first_and_counts_are_shown_once(demo_doc):
    html = html_report.render(demo_doc)
    ranks = [(int(s), int(v)) for s, v in re.findall(r'data-status-rank="(\d)" data-severity-rank="(\d)"', html)]
    assert ranks == sorted(ranks, key=lambda r: r[0]) and ranks[0] == (Status.FAIL.rank, Severity.CRITICAL.rank)
    assert html.count(f'{sum(f.status is Status.PASS for f in demo_doc.findings)} PASS</span>') == 1


def test_an_incomplete_audit_names_its_causes_once(demo_doc):
    cause = "exchange.accessTests: collection failed: HTTP 401 from the jump host"
    findings = tuple(dataclasses.replace(f, status=Status.ERROR, message=cause) if f.check_id == "SCOPE-005"
                     else f for f in demo_doc.findings)
    errors = sum(f.status is Status.ERROR for f in findings)
    (only,) = error_causes(findings)
    assert (only.section, only.count) == ("exchange.accessTests", errors)
    html = html_report.render(dataclasses.replace(demo_doc, findings=findings))
    assert "verdict-incomplete" in html
    assert f"HTTP 401 from the jump host <a class=\"cost\" href=\"#{only.anchor}\">{errors} findings not evaluated" \
        in html
    assert html.count("HTTP 401 from the jump host") == 1, "the cause is named once, not in every row"
    assert html.count('Not evaluated: <a href="#cause-1">cause 1</a>') == errors  # each row points to it


def test_access_results_are_coloured_by_expectation_and_policies_carry_their_verdict(demo_doc):
    html = html_report.render(demo_doc)
    ticketing = html[html.index('id="integration-2"'):html.index('id="integration-3"')]
    tests = ticketing[ticketing.index("Effective access"):]
    queue_row = tests[tests.index("helpdesk@contoso.com</td>"):][:400]
    canary_row = tests[tests.index("cfo@contoso.com</td>"):][:400]
    assert "result-granted result-good" in queue_row and "result-granted result-bad" in canary_row
    policy = ticketing[ticketing.index("<td>RestrictAccess</td>") - 20:][:600]
    assert 'class="bad"' in policy and "SCOPE-002" in policy and "is not valid" in policy
    assert ">yes<" not in ticketing


def test_dates_are_human_with_the_iso_value_on_hover(demo_doc):
    html = html_report.render(demo_doc)
    iso = demo_doc.run.collected_at
    assert re.search(rf'<time datetime="{iso}" title="{iso}">\d{{1,2}} \w{{3}} \d{{4}}, \d\d:\d\d UTC</time>', html)


def test_a_guid_resource_shows_the_app_name_beside_it(demo_doc):
    html = html_report.render(demo_doc)
    assert re.search(r'<span class="rname">Mail Reporting</span> <span class="mono">ffffffff-0000-4000-8000-'
                     r'000000000012</span>', html)


# --- in Chromium ---------------------------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.parametrize("width", [1400, 390])
def test_screenshots_show_the_risk_first_and_the_page_never_scrolls_sideways(browser, demo_report, width,  # noqa: F811
                                                                              tmp_path_factory):
    shots = tmp_path_factory.mktemp(f"screens-{width}")
    context = browser.new_context(viewport={"width": width, "height": 900 if width > 600 else 844})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text))
    page.goto(demo_report.as_uri())
    try:
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        first = page.locator("#headline li").first
        assert "Ticketing can read and change all 26 mailboxes" in first.inner_text()
        box = first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= page.viewport_size["height"], "on the first screen"
        hints = page.locator("#integration-2 .scroll-hint")
        cut = page.evaluate("[...document.querySelectorAll('#integration-2 .tscroll')]"
                            ".map(b => b.scrollWidth > b.clientWidth + 1)")
        assert [hints.nth(n).is_visible() for n in range(hints.count())] == cut, "a cue exactly where a table is cut"
        assert any(cut) == (width < 600), "at 1,400 px every table fits its card; on a phone wide ones scroll in it"
        page.screenshot(path=str(shots / "top.png"))
        page.locator("#integration-2").screenshot(path=str(shots / "integration.png"))
        page.click('#filters button[data-filter="status"][data-value="FAIL"]')
        rows = page.locator("tr.finding:visible")
        assert rows.first.get_attribute("data-severity") == "critical"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        rows.first.scroll_into_view_if_needed()
        assert rows.first.locator(".st-fail").is_visible() and rows.first.locator(".msg").is_visible()
        cell = rows.first.locator(".msg").bounding_box()
        assert cell is not None and cell["x"] + cell["width"] <= width, "the FAIL text is on screen, not cut off"
        page.locator("#findings").screenshot(path=str(shots / "fails.png"))
        assert errors == []
        assert all((shots / f"{name}.png").stat().st_size > 1000 for name in SHOTS)
    finally:
        context.close()


@pytest.mark.browser
def test_the_sort_control_reorders_and_criticals_come_first(browser, demo_report):  # noqa: F811
    page = browser.new_page()
    page.goto(demo_report.as_uri())
    page.click('#filters button[data-filter="status"][data-value="FAIL"]')
    ranks = [Severity(s).rank for s in page.eval_on_selector_all(
        "tr.finding", "rs => rs.filter(r => r.checkVisibility()).map(r => r.dataset.severity)")]
    assert ranks == sorted(ranks) and ranks[0] == Severity.CRITICAL.rank
    page.select_option("#sort-groups", "catalog")
    catalog = page.eval_on_selector_all("details.check", "ds => ds.map(d => Number(d.dataset.catalog))")
    assert catalog == sorted(catalog)
    page.select_option("#sort-groups", "worst")
    assert page.eval_on_selector_all("details.check", "ds => ds.map(d => d.dataset.check)")[0] == "APP-001"
    page.close()


@pytest.mark.browser
def test_the_demo_report_prints_on_at_most_eight_a4_pages(browser, demo_report, tmp_path):  # noqa: F811
    page = browser.new_page()
    page.goto(demo_report.as_uri())
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), format="A4")
    page.close()
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf.read_bytes()))
    assert 1 <= pages <= 8, pages


@pytest.mark.browser
def test_the_portfolio_page_fits_1400_px(browser, tmp_path):  # noqa: F811
    rows = [portfolio_report.TenantRow(
        name=f"Customer {n} with a long legal name Holdings", folder=f"t{n}", verdict="fail", exit_code=1,
        tenant_id=f"11111111-2222-3333-4444-55555555555{n}", tenant_name="contoso.onmicrosoft.com",
        collected_at="2026-12-02T06:33:00Z", by_status={"FAIL": 57, "PASS": 115, "ERROR": 0, "WAIVED": 1},
        failures_by_severity={"critical": 32, "high": 11, "medium": 12, "low": 2}, new=3, resolved=1,
        waivers_expiring=1, waivers_stale=2, report=f"t{n}/report.html") for n in range(3)]
    rows.append(portfolio_report.TenantRow(name="Refused", folder="r", verdict="not-audited", exit_code=3,
                                           error="sign-in refused: AADSTS7000215: Invalid client secret provided. "
                                                 "Trace ID: 0b5e8c1a-7d1e-4f5c-9a55-3c1e2b7d4f00 "
                                                 "https://login.microsoftonline.com/error?code=7000215&"
                                                 "trace=0b5e8c1a7d1e4f5c9a553c1e2b7d4f00"))
    (tmp_path / "portfolio.html").write_text(portfolio_report.render_html(rows, "Managed tenants"))
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto((tmp_path / "portfolio.html").as_uri())
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate("[...document.querySelectorAll('.scroll')].every(s => s.scrollWidth <= s.clientWidth)")
    assert "2 Dec 2026, 06:33 UTC" in page.inner_text("table.portfolio")
    context.close()

