"""junit.xml: one test case per finding, one test suite per check, for CI dashboards.

The layout follows the Ant/Jenkins JUnit schema that CI servers read (testsuites > testsuite > testcase >
failure | error | skipped). FAIL becomes <failure>, ERROR <error>, SKIP and WAIVED <skipped>; PASS is a plain
passing case. ElementTree does the escaping; characters XML 1.0 cannot carry at all (control characters a
tenant could put in a display name) are replaced first, or the file would not parse. Deterministic: the only
time in it is the collection time, and every duration is 0 because evaluation is not what a dashboard should time.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from auditor.models.findings import Finding, FindingsDocument, Status
from auditor.models.timeutil import parse_datetime
from auditor.reports.file_names import FILE_NAMES
from auditor.reports.files import write_atomic

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Code points outside XML 1.0's Char production: https://www.w3.org/TR/xml/#charsets"""

_OUTCOME = {Status.FAIL: "failure", Status.ERROR: "error", Status.SKIP: "skipped", Status.WAIVED: "skipped"}


def xml_text(value: object) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def case_name(finding: Finding) -> str:
    return f"{finding.integration or 'tenant'} :: {finding.resource}"


def body(finding: Finding) -> str:
    lines = [finding.message, "", f"status: {finding.status.value}", f"severity: {finding.severity.value}"]
    if finding.waiver:
        state = "expired" if finding.waiver.get("expired") else "until"
        lines.append(f"waiver: {finding.waiver.get('reason', '')} ({state} {finding.waiver.get('expires', '')})")
    if finding.remediation:
        lines.append(f"remediation: {finding.remediation}")
    lines += [f"reference: {r}" for r in finding.references]
    lines.append("evidence: " + json.dumps(finding.evidence, ensure_ascii=False, sort_keys=True, default=str))
    return xml_text("\n".join(lines))


def _counts(findings: Iterable[Finding]) -> dict[str, str]:
    statuses = [f.status for f in findings]
    return {
        "tests": str(len(statuses)),
        "failures": str(statuses.count(Status.FAIL)),
        "errors": str(statuses.count(Status.ERROR)),
        "skipped": str(statuses.count(Status.SKIP) + statuses.count(Status.WAIVED)),
    }


def _timestamp(collected_at: str) -> str:
    """The schema's timestamp has no zone; the collection time is UTC."""
    try:
        return parse_datetime(collected_at).strftime("%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return ""


def build(doc: FindingsDocument) -> ET.Element:
    run = doc.run
    tenant = run.tenant_name or run.tenant_domain or run.tenant_id
    root = ET.Element("testsuites", {"name": xml_text(f"mailbox-access-auditor: {tenant} ({run.tenant_id})"),
                                     **_counts(doc.findings), "time": "0"})
    by_check: dict[str, list[Finding]] = {}
    for finding in doc.findings:
        by_check.setdefault(finding.check_id, []).append(finding)
    timestamp = _timestamp(run.collected_at)
    for n, (check_id, findings) in enumerate(by_check.items()):
        attributes = {"name": xml_text(f"{check_id} {findings[0].title}"), **_counts(findings), "time": "0",
                      "id": str(n), "package": "mailbox-access-auditor"}
        if timestamp:
            attributes["timestamp"] = timestamp
        suite = ET.SubElement(root, "testsuite", attributes)
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", {"name": "severity", "value": findings[0].severity.value})
        ET.SubElement(properties, "property", {"name": "tenant", "value": xml_text(run.tenant_id)})
        ET.SubElement(properties, "property", {"name": "collected_at", "value": xml_text(run.collected_at)})
        for finding in findings:
            case = ET.SubElement(suite, "testcase", {"classname": xml_text(check_id),
                                                     "name": xml_text(case_name(finding)), "time": "0"})
            outcome = _OUTCOME.get(finding.status)
            if outcome is None:
                ET.SubElement(case, "system-out").text = xml_text(finding.message)
                continue
            element = ET.SubElement(case, outcome, {"message": xml_text(f"{finding.status.value}: {finding.message}")})
            if outcome != "skipped":
                element.set("type", finding.severity.value)
            element.text = body(finding)
    return root


def render(doc: FindingsDocument) -> str:
    root = build(doc)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(doc: FindingsDocument, out_dir: Path) -> Path:
    path = out_dir / FILE_NAMES["junit"]
    write_atomic(path, render(doc))
    return path
