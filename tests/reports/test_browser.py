"""report.html in a real browser: Debian's Chromium, headless, driven by Playwright, page opened from disk.

Never `playwright install`: it downloads its own browser, which cannot be fetched here; we point Playwright at
/usr/bin/chromium. Missing Chromium or Playwright fails these tests in CI (CI set) and skips them elsewhere.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.models.findings import FindingsDocument, Status
from auditor.reports import html_report
from tests.reports.conftest import many_findings

pytestmark = pytest.mark.browser

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
SCREENSHOT = Path("/tmp/report.png")


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed: pip install -e '.[test]'")
        pytest.skip("playwright is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=LAUNCH_ARGS)
        yield browser
        browser.close()


class Opened:
    """A page showing a rendered report, with everything it asked for and everything it said."""

    def __init__(self, browser: Any, path: Path, **context: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1360, "height": 1000}, **context)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.console: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.url = path.as_uri()
        self.page.goto(self.url)

    def visible_rows(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "tr.finding", "rows => rows.filter(r => r.checkVisibility()).map(r => r.dataset.status)")


@pytest.fixture
def open_report(browser, tmp_path) -> Iterator[Any]:
    opened: list[Opened] = []

    def _open(doc: FindingsDocument, **context: Any) -> Opened:
        path = html_report.write(doc, tmp_path / f"r{len(opened)}")
        opened.append(Opened(browser, path, **context))
        return opened[-1]

    yield _open
    for o in opened:
        o.context.close()


def test_verdict_and_counts_are_visible_and_nothing_leaves_the_page(open_report, sample_doc):
    report = open_report(sample_doc)
    page = report.page
    verdict = page.inner_text("#verdict")
    assert "Not compliant" in verdict and "37 failing findings" in verdict
    counts = page.inner_text(".countline")
    for status in Status:
        assert f"{sum(f.status is status for f in sample_doc.findings)} {status.value}" in counts
    assert page.is_visible("#headline") and page.is_visible("#filters")
    page.screenshot(path=str(SCREENSHOT))
    assert report.requests == [report.url]
    assert report.console == [], "no CSP violation, no script error"


def test_status_filter_shows_only_that_status(open_report, sample_doc):
    report = open_report(sample_doc)
    page = report.page
    total = len(sample_doc.findings)
    fails = sum(f.status is Status.FAIL for f in sample_doc.findings)
    page.click('#filters button[data-filter="status"][data-value="FAIL"]')
    assert report.visible_rows() == ["FAIL"] * fails
    assert page.inner_text("#filter-count") == f"Showing {fails} of {total} findings"
    page.click('#filters button[data-filter="status"][data-value="PASS"]')  # a second status widens the filter
    assert sorted(set(report.visible_rows())) == ["FAIL", "PASS"]
    page.click("#filter-reset")
    page.click("#expand-all")
    assert len(report.visible_rows()) == total


def test_passing_checks_start_collapsed_and_a_filter_opens_them(open_report, sample_doc):
    passing = tuple(dataclasses.replace(f, status=Status.PASS) for f in sample_doc.findings)
    report = open_report(dataclasses.replace(sample_doc, findings=passing))
    page = report.page
    assert "Compliant" in page.inner_text("#verdict")
    assert report.visible_rows() == []
    page.click('#filters button[data-filter="status"][data-value="PASS"]')
    assert len(report.visible_rows()) == len(passing)


def test_large_report_opens_and_filters(open_report, sample_doc):
    doc = many_findings(sample_doc, 5000)
    report = open_report(doc)
    page = report.page
    fails = sum(f.status is Status.FAIL for f in doc.findings)
    page.click('#filters button[data-filter="status"][data-value="FAIL"]')
    assert page.inner_text("#filter-count") == f"Showing {fails} of 5000 findings"
    assert report.visible_rows() == ["FAIL"] * fails
    assert report.console == []


def test_integration_and_text_filters(open_report, sample_doc):
    from playwright.sync_api import expect  # the browser fixture has made sure Playwright is there

    report = open_report(sample_doc)
    page = report.page
    page.select_option("#filter-integration", "Ticketing")
    mine = [f for f in sample_doc.findings if f.integration == "Ticketing"]
    assert len(report.visible_rows()) == len(mine)
    page.select_option("#filter-integration", index=0)
    page.fill("#filter-text", "cfo@contoso.com")
    expect(page.locator("#filter-count")).to_have_text(re.compile(r"^Showing \d+ of"))  # after the debounce
    rows = page.eval_on_selector_all("tr.finding", "rs => rs.filter(r => r.checkVisibility()).map(r => r.textContent)")
    assert rows and all("cfo@contoso.com" in r for r in rows)


def test_link_from_an_integration_opens_the_finding(open_report, sample_doc):
    report = open_report(sample_doc)
    page = report.page
    link = page.locator("#integration-2 .attention a").first
    target = link.get_attribute("href")
    link.click()
    assert page.is_visible(f"tr{target}")


def test_tenant_markup_shows_as_text_and_never_runs(open_report, hostile_doc):
    report = open_report(hostile_doc)
    page = report.page
    page.wait_for_timeout(300)  # give an injected onerror the chance it must not get
    assert report.dialogs == []
    assert page.eval_on_selector_all("img", "els => els.length") == 0
    assert page.eval_on_selector_all("script", "els => els.length") == 1
    assert "<img src=x onerror=alert(26)>" in page.inner_text("#integration-1")
    assert "<img src=x onerror=alert(16)>" in page.inner_text("#findings")
    page.click("#expand-all")
    page.wait_for_timeout(100)
    assert report.dialogs == [] and report.requests == [report.url]
    assert report.console == [], "not even a blocked attempt: nothing reached the page as markup"


def test_reads_without_javascript(open_report, sample_doc):
    report = open_report(sample_doc, java_script_enabled=False)
    page = report.page
    assert not page.is_visible("#filters")
    assert "Not compliant" in page.inner_text("#verdict")
    assert page.eval_on_selector_all("tr.finding", "rs => rs.length") == len(sample_doc.findings)
    failing = [f for f in sample_doc.findings if f.status is Status.FAIL]
    assert report.visible_rows().count("FAIL") == len(failing)  # their groups are open


def test_print_shows_what_to_act_on_and_collapses_passing_rows_and_evidence(open_report, sample_doc):
    report = open_report(sample_doc)
    page = report.page
    page.emulate_media(media="print")
    assert not page.is_visible("#filters") and not page.is_visible("nav.toc")
    assert report.visible_rows().count("FAIL") == sum(f.status is Status.FAIL for f in sample_doc.findings)
    assert "PASS" not in report.visible_rows()
    assert page.eval_on_selector_all("pre", "ps => ps.filter(p => p.checkVisibility()).length") == 0
    background = page.eval_on_selector("body", "b => getComputedStyle(b).backgroundColor")
    assert background in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
