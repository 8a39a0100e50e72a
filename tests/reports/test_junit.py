"""junit.xml: one case per finding, one suite per check, valid against the JUnit schema CI servers read."""

from __future__ import annotations

import dataclasses
import os
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from auditor.models.findings import FindingsDocument, Status
from auditor.reports import junit_report
from tests.reports.conftest import hostile_finding, many_findings, payload

XSD = Path(__file__).with_name("junit.xsd")


@pytest.fixture(scope="module")
def schema():
    """xmlschema is a test dependency: missing, the schema tests fail in CI (CI set) and skip elsewhere."""
    try:
        import xmlschema
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("xmlschema is not installed: pip install -e '.[test]'")
        pytest.skip("xmlschema is not installed")
    return xmlschema.XMLSchema(XSD)


@pytest.fixture(scope="module")
def sample_xml(sample_doc: FindingsDocument) -> str:
    return junit_report.render(sample_doc)


def cases(root: ET.Element) -> list[ET.Element]:
    return root.findall("./testsuite/testcase")


def test_one_case_per_finding_one_suite_per_check(sample_doc, sample_xml):
    root = ET.fromstring(sample_xml)
    assert root.tag == "testsuites"
    assert len(cases(root)) == len(sample_doc.findings) == int(root.get("tests"))
    checks = list(dict.fromkeys(f.check_id for f in sample_doc.findings))
    suites = root.findall("testsuite")
    assert [s.get("name").split(" ", 1)[0] for s in suites] == checks
    for suite, check_id in zip(suites, checks, strict=True):
        mine = [f for f in sample_doc.findings if f.check_id == check_id]
        assert suite.get("name") == f"{check_id} {mine[0].title}"
        assert [c.get("classname") for c in suite.findall("testcase")] == [check_id] * len(mine)
        assert [c.get("name") for c in suite.findall("testcase")] == [
            f"{f.integration or 'tenant'} :: {f.resource}" for f in mine]


def test_counts_on_every_level(sample_doc, sample_xml):
    root = ET.fromstring(sample_xml)
    by_status = Counter(f.status for f in sample_doc.findings)
    assert root.get("failures") == str(by_status[Status.FAIL])
    assert root.get("errors") == str(by_status[Status.ERROR])
    assert root.get("skipped") == str(by_status[Status.SKIP] + by_status[Status.WAIVED])
    for suite in root.findall("testsuite"):
        found = suite.findall("testcase")
        assert suite.get("tests") == str(len(found))
        assert suite.get("failures") == str(sum(c.find("failure") is not None for c in found))
        assert suite.get("errors") == str(sum(c.find("error") is not None for c in found))
        assert suite.get("skipped") == str(sum(c.find("skipped") is not None for c in found))


def test_outcome_elements_carry_message_severity_and_remediation(sample_doc, sample_xml):
    checks = list(dict.fromkeys(f.check_id for f in sample_doc.findings))
    expected = {Status.FAIL: "failure", Status.ERROR: "error", Status.SKIP: "skipped", Status.WAIVED: "skipped"}
    in_suite_order = sorted(sample_doc.findings, key=lambda f: checks.index(f.check_id))  # stable: doc order within
    for finding, case in zip(in_suite_order, cases(ET.fromstring(sample_xml)), strict=True):
        children = [c for c in case if c.tag in ("failure", "error", "skipped")]
        if finding.status is Status.PASS:
            assert children == [] and case.findtext("system-out") == finding.message
            continue
        (outcome,) = children
        assert outcome.tag == expected[finding.status]
        assert outcome.get("message") == f"{finding.status.value}: {finding.message}"
        assert finding.message in outcome.text and f"severity: {finding.severity.value}" in outcome.text
        assert f"remediation: {finding.remediation}" in outcome.text
        if outcome.tag != "skipped":
            assert outcome.get("type") == finding.severity.value


def test_valid_against_the_junit_schema(schema, sample_xml, hostile_doc):
    schema.validate(sample_xml)
    schema.validate(junit_report.render(hostile_doc))


def test_schema_rejects_what_ci_servers_would_choke_on(schema):
    assert not schema.is_valid('<testsuites tests="1" failures="0" errors="0"><testsuite name="x" tests="1" '
                               'failures="0" errors="0" skipped="0"><testcase name="y"/></testsuite></testsuites>')
    assert not schema.is_valid('<testsuites tests="1" failures="1" errors="0"><testsuite name="x" tests="1" '
                               'failures="1" errors="0" skipped="0"><testcase classname="c" name="y">'
                               '<failure/></testcase></testsuite></testsuites>')


def test_tenant_strings_survive_escaping_and_control_characters(hostile_doc):
    nasty = payload(1) + "\x00\x07\x1b]]>\ud800 end"
    finding = hostile_finding(0, Status.FAIL, message=nasty, resource=nasty, integration="ops\x0b")
    doc = dataclasses.replace(hostile_doc, findings=(finding,))
    text = junit_report.render(doc)
    root = ET.fromstring(text.encode("utf-8"))  # parses: nothing unescaped, nothing outside XML 1.0
    (case,) = cases(root)
    cleaned = payload(1) + "\ufffd\ufffd\ufffd]]>\ufffd end"
    assert case.get("name") == f"ops\ufffd :: {cleaned}"
    assert case.find("failure").get("message") == f"FAIL: {cleaned}"
    assert "<img" not in text and "<script" not in text


def test_deterministic(sample_doc, sample_xml):
    assert junit_report.render(FindingsDocument.from_dict(sample_doc.to_dict())) == sample_xml
    assert 'timestamp="2026-06-01T12:00:00"' in sample_xml


def test_write(sample_doc, tmp_path):
    path = junit_report.write(sample_doc, tmp_path)
    assert path == tmp_path / "junit.xml" and path.read_text(encoding="utf-8") == junit_report.render(sample_doc)


def test_large_document(sample_doc):
    doc = many_findings(sample_doc, 2000)
    assert int(ET.fromstring(junit_report.render(doc)).get("tests")) == 2000


def test_no_findings_is_still_a_valid_file(schema, sample_doc):
    text = junit_report.render(dataclasses.replace(sample_doc, findings=()))
    schema.validate(text)
    assert ET.fromstring(text).get("tests") == "0"
