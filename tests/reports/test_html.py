"""report.html: escaping of everything from the tenant, self-containment, determinism, structure, speed."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape

from auditor.models.findings import FindingsDocument, Status
from auditor.reports import html_report
from tests.reports.conftest import EVIDENCE_FIELDS, HOSTILE_FIELDS, escaped, hostile_finding, many_findings, payload


class Page(HTMLParser):
    """Every element with its attributes, and the text of <style> and <script> elements."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.raw: dict[str, list[str]] = {"style": [], "script": []}
        self._in: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in self.raw:
            self._in = tag
            self.raw[tag].append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.raw[self._in][-1] += data

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]


@pytest.fixture(scope="module")
def sample_html(sample_doc: FindingsDocument) -> str:
    return html_report.render(sample_doc)


@pytest.fixture(scope="module")
def hostile_html(hostile_doc: FindingsDocument) -> str:
    return html_report.render(hostile_doc)


# --- escaping -------------------------------------------------------------------------------------------------

def test_every_tenant_field_is_rendered_escaped(hostile_html):
    missing = [n for n in HOSTILE_FIELDS if escaped(n) not in hostile_html]
    assert not missing, f"fields not rendered (or not escaped as expected): {missing}"


def test_evidence_is_pretty_json_escaped(hostile_html):
    for n in EVIDENCE_FIELDS:
        as_json = json.dumps(payload(n), ensure_ascii=False)
        assert str(escape(as_json)) in hostile_html, n


def test_no_tenant_markup_becomes_an_element_or_a_handler(hostile_html):
    page = Page(hostile_html)
    assert page.tags("img") == []
    assert len(page.tags("script")) == 1 and page.tags("script")[0] == {}
    handlers = [(tag, name) for tag, attrs in page.elements for name in attrs if name.startswith("on")]
    assert handlers == []
    assert "<img" not in hostile_html and "onerror=alert(1)>" not in hostile_html


def test_quotes_cannot_break_out_of_attributes(hostile_html):
    page = Page(hostile_html)
    rows = [attrs for attrs in page.tags("tr") if attrs.get("class") == "finding"]
    assert rows and all(set(attrs) == {"id", "class", "data-status", "data-severity", "data-integration"}
                        for attrs in rows)
    assert {attrs["data-integration"] for attrs in rows} == {"", hostile_finding(0, Status.PASS).integration}


def test_only_https_references_become_links(hostile_html, sample_html):
    assert 'href="javascript:' not in hostile_html and 'href="http://' not in hostile_html
    assert "javascript:alert(1)" in hostile_html  # still shown, as text
    links = [a for a in Page(sample_html).tags("a") if (a.get("href") or "").startswith("https://")]
    assert links, "the sample has catalog references"
    assert all(a.get("class") == "ref" and a.get("rel") == "noopener noreferrer" for a in links)


# --- self-contained -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["sample_html", "hostile_html"])
def test_nothing_is_loaded_from_anywhere(which, request):
    html = request.getfixturevalue(which)
    page = Page(html)
    for tag in ("link", "iframe", "object", "embed", "img", "video", "audio", "source", "base", "form"):
        if tag == "form":
            assert all(a.get("action") is None for a in page.tags(tag))
            continue
        assert page.tags(tag) == [], tag
    for tag, attrs in page.elements:
        for name in ("src", "srcset", "poster", "action", "xlink:href", "data"):
            assert name not in attrs, (tag, name)
        href = attrs.get("href")
        if href is not None and not href.startswith("#"):
            assert tag == "a" and attrs.get("class") == "ref" and href.startswith("https://"), (tag, href)
    styles = "".join(page.raw["style"])
    assert "url(" not in styles and "@import" not in styles and "@font-face" not in styles


def test_csp_allows_exactly_our_style_and_script(sample_html):
    page = Page(sample_html)
    csp = next(a["content"] for a in page.tags("meta") if a.get("http-equiv") == "Content-Security-Policy")
    assert csp is not None and "default-src 'none'" in csp and "unsafe-inline" not in csp
    for kind, directive in (("style", "style-src"), ("script", "script-src")):
        (text,) = page.raw[kind]
        digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp, kind
    assert not any("style" in attrs for _, attrs in page.elements), "inline style= attributes would be blocked"


# --- content --------------------------------------------------------------------------------------------------

def test_header_shows_tenant_run_and_collection_facts(sample_doc, sample_html):
    run = sample_doc.run
    for text in (run.tenant_name, run.tenant_domain, run.tenant_id, run.baseline_file, run.baseline_sha256[:12],
                 run.tool_version, "1 Jun 2026, 12:00 UTC", "Exchange transport", "psrp"):
        assert text in sample_html, text


def test_title_and_organisation_when_set(sample_doc):
    doc = dataclasses.replace(sample_doc, run=dataclasses.replace(sample_doc.run, title="Q2 mailbox review",
                                                                  organisation="Contoso Security"))
    html = html_report.render(doc)
    assert "<h1>Q2 mailbox review</h1>" in html and "Contoso Security" in html


@pytest.mark.parametrize(("statuses", "key", "headline"), [
    ([Status.PASS, Status.SKIP, Status.WAIVED], "pass", "Compliant"),
    ([Status.PASS, Status.FAIL], "fail", "Not compliant"),
    ([Status.FAIL, Status.ERROR], "incomplete", "Incomplete"),
])
def test_verdict(sample_doc, statuses, key, headline):
    findings = tuple(dataclasses.replace(sample_doc.findings[0], status=s, resource=f"r{i}")
                     for i, s in enumerate(statuses))
    html = html_report.render(dataclasses.replace(sample_doc, findings=findings))
    assert f'class="verdict verdict-{key}"' in html
    assert f'<h2 class="verdict-headline">{headline}</h2>' in html


def test_summary_counts_match_the_findings_and_are_shown_once(sample_doc, sample_html):
    for status in Status:
        n = sum(f.status is status for f in sample_doc.findings)
        assert f'{n} {status.value}</span>' in sample_html
    for gone in ('class="tiles"', '<svg class="donut"', '<svg class="bars"', 'class="matrix"'):
        assert gone not in sample_html, gone


def test_each_integration_and_the_sweep_have_a_section(sample_doc, sample_html):
    for n, integration in enumerate(sample_doc.inventory["integrations"], start=1):
        assert f'id="integration-{n}"' in sample_html
        assert f"<h3>{integration['name']}</h3>" in sample_html
    for app in sample_doc.inventory["sweep"]:
        assert app["app_id"] in sample_html
    assert sample_html.count('<svg class="timeline"') == sum(
        bool(i["credentials"] or i["service_principal_credentials"]) for i in sample_doc.inventory["integrations"])


def test_unavailable_parts_say_why(hostile_html, sample_doc):
    assert hostile_html.count('class="unavailable"') >= 4
    html = html_report.render(dataclasses.replace(sample_doc, inventory={"integrations": [], "sweep": {
        "unavailable": "sweep disabled"}}))
    assert "<strong>Not available:</strong> sweep disabled" in html


def test_every_finding_has_a_row_with_evidence(sample_doc, sample_html):
    page = Page(sample_html)
    rows = [a for a in page.tags("tr") if a.get("class") == "finding"]
    assert len(rows) == len(sample_doc.findings)
    assert {a["id"] for a in rows} == {f"f-{i}" for i in range(len(sample_doc.findings))}
    assert sample_html.count('<details class="evidence') == len(sample_doc.findings)


def test_check_groups_open_only_when_something_fails(sample_doc, sample_html):
    groups = {a["data-check"]: a for a in Page(sample_html).tags("details") if a.get("class") == "check"}
    assert sorted(groups) == sorted(dict.fromkeys(f.check_id for f in sample_doc.findings))
    for check_id, attrs in groups.items():
        acting = any(f.check_id == check_id and f.status in (Status.FAIL, Status.ERROR) for f in sample_doc.findings)
        assert ("open" in attrs) == acting, check_id


def test_filters_are_hidden_until_the_script_shows_them(sample_html):
    (form,) = Page(sample_html).tags("form")
    assert "hidden" in form and form["id"] == "filters"


def test_waivers_are_shown(sample_doc, sample_html):
    waived = [f for f in sample_doc.findings if f.status is Status.WAIVED]
    assert waived and all(f.waiver and f.waiver["reason"] in sample_html for f in waived)


def test_an_empty_document_still_renders(sample_doc):
    html = html_report.render(dataclasses.replace(sample_doc, findings=(), inventory={}))
    assert '<h2 class="verdict-headline">Compliant</h2>' in html and "No findings." in html
    assert html.count("not recorded in this findings.json") == 2


def test_large_reports_defer_layout_of_offscreen_groups(sample_doc, sample_html):
    assert '<body class="large">' in html_report.render(many_findings(sample_doc, html_report.LARGE_REPORT + 1))
    assert "<body>" in sample_html


# --- determinism and speed --------------------------------------------------------------------------------------

def test_same_input_same_bytes(sample_doc, sample_html):
    again = FindingsDocument.from_dict(sample_doc.to_dict())
    assert html_report.render(again) == sample_html
    assert html_report.render(sample_doc) == sample_html


def test_write_is_atomic_and_named_report_html(sample_doc, tmp_path: Path):
    path = html_report.write(sample_doc, tmp_path)
    assert path == tmp_path / "report.html" and path.read_text(encoding="utf-8") == html_report.render(sample_doc)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_two_thousand_findings_render_quickly(sample_doc, record_property, capsys):
    doc = many_findings(sample_doc, 2000)
    html_report.render(doc)  # warm the template cache
    start = time.perf_counter()
    html = html_report.render(doc)
    seconds = time.perf_counter() - start
    record_property("render_seconds_2000", round(seconds, 3))
    with capsys.disabled():
        print(f"\n[html report] 2,000 findings rendered in {seconds:.3f} s ({len(html) / 1e6:.1f} MB)")
    assert len(re.findall(r'<tr id="f-\d+" class="finding"', html)) == 2000
    assert seconds < 5, f"2,000 findings took {seconds:.2f} s"


def test_verdict_follows_the_runs_fail_on_threshold_like_the_exit_code():
    from collections import Counter

    from auditor.models.findings import Severity, Status
    from auditor.reports.html_report import verdict

    statuses = Counter({Status.PASS: 10, Status.FAIL: 3})
    failing = Counter({Severity.LOW: 2, Severity.MEDIUM: 1})
    assert verdict(statuses, failing).headline == "Not compliant"  # default --fail-on low
    at_high = verdict(statuses, failing, Severity.HIGH)
    assert at_high.headline == "Compliant"
    assert "3 failing findings below the --fail-on high threshold" in at_high.detail
    at_medium = verdict(statuses, failing, Severity.MEDIUM)
    assert at_medium.headline == "Not compliant" and "1 failing finding (1 medium)" in at_medium.detail
