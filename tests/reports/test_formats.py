"""The formats for other consumers (markdown, ps1, xlsx, the CSV's tenant columns, -f lists): each read back and
checked for what its reader relies on, from a real demo run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from auditor.checks.fixes import PS_QUOTES, Unquotable, fix_for, ps_quote
from auditor.models.baseline import Integration
from auditor.models.findings import Finding, FindingsDocument, Severity, Status
from auditor.reports import markdown_report, ps1_report
from tests.security.conftest import run_cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("formats") / "out"
    code, _, err = run_cli("demo", "--out", str(out), "--no-history", "-q", "-f", "json,csv,markdown,ps1,xlsx")
    assert code == 1, err
    return out


def document(out: Path) -> FindingsDocument:
    return FindingsDocument.from_dict(json.loads((out / "findings.json").read_text(encoding="utf-8")))


def test_format_lists_and_a_bad_value(tmp_path: Path, demo: Path) -> None:
    assert sorted(p.name for p in demo.iterdir()) == ["findings.csv", "findings.json", "findings.xlsx",
                                                       "manifest.json", "remediation.ps1", "snapshot.json",
                                                       "summary.md"]
    code, _, err = run_cli("report", str(demo / "findings.json"), "-o", str(tmp_path / "r"), "-f", "html,pdf")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "'pdf' is not a report format" in err
    assert not (tmp_path / "r").exists()
    code, _, err = run_cli("report", str(demo / "findings.json"), "-o", str(tmp_path / "r"), "-f", "csv, markdown",
                             "-f", "csv")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["findings.csv", "manifest.json", "summary.md"]


def test_csv_keeps_its_columns_and_gains_the_tenant(demo: Path) -> None:
    frame = pd.read_csv(demo / "findings.csv", dtype=str, keep_default_na=False)
    assert list(frame.columns[:11]) == ["check_id", "status", "severity", "integration", "resource", "message",
                                        "title", "remediation", "evidence", "references", "waiver"]
    assert list(frame.columns[11:]) == ["tenant_id", "tenant_name", "collected_at", "fix"]
    doc = document(demo)
    assert set(frame["tenant_id"]) == {doc.run.tenant_id} and set(frame["tenant_name"]) == {"Contoso"}
    assert set(frame["collected_at"]) == {doc.run.collected_at}


def test_markdown_is_short_worst_first_and_capped(demo: Path) -> None:
    text = (demo / "summary.md").read_text(encoding="utf-8")
    doc = document(demo)
    failing = [f for f in doc.findings if f.status is Status.FAIL]
    assert text.startswith("## ❌ Mailbox access audit: Not compliant")
    rows = [line for line in text.splitlines() if line.startswith("| FAIL |") and line.count("|") > 4]
    assert len(rows) == markdown_report.LISTED and f"and {len(failing) - markdown_report.LISTED} more" in text
    severities = [row.split("|")[2].strip() for row in rows]
    assert severities == sorted(severities, key=lambda s: Severity(s).rank) and severities[0] == "critical"


def test_markdown_escapes_tenant_values() -> None:
    evil = "[click](https://evil.example) <img src=x onerror=alert(1)> | **bold** `code`\n# heading"
    doc = FindingsDocument.from_dict({"schema_version": 1, "run": {"tenant": {"id": "t", "domain": "d", "name": evil},
                                      "collected_at": "2026-01-01T00:00:00Z", "tool_version": "0",
                                      "baseline": {"file": "b.toml", "sha256": ""}}, "summary": {},
                                      "inventory": {}, "findings": []})
    doc = FindingsDocument(run=doc.run, summary={}, inventory={}, findings=(Finding(
        check_id="SCOPE-001", title="t", severity=Severity.CRITICAL, status=Status.FAIL, integration=evil,
        resource=evil, message=evil),))
    text = markdown_report.render(doc)
    assert not re.search(r"(?<!\\)[\[\]<>`*()]", text)  # no link, image, tag, code or emphasis is open
    assert "\n# heading" not in text and "\n\\# heading" not in text  # the newline did not start a heading
    assert "\\[click\\]\\(https\\:" in text and "\\<img" in text
    row = next(line for line in text.splitlines() if line.startswith("| FAIL | critical"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 7  # the table's own cell borders, none from the value


def test_xlsx_round_trip(demo: Path) -> None:
    sheets = pd.read_excel(demo / "findings.xlsx", sheet_name=None, dtype=str, keep_default_na=False)
    assert list(sheets) == ["Summary", "Findings", "Integrations", "Tenant sweep", "Waivers"]
    doc = document(demo)
    csv = pd.read_csv(demo / "findings.csv", dtype=str, keep_default_na=False)
    findings = sheets["Findings"]
    assert len(findings) == len(doc.findings)
    assert findings["check_id"].tolist() == csv["check_id"].tolist()
    assert findings["message"].tolist() == csv["message"].tolist()
    assert findings["fix"].str.contains("New-ApplicationAccessPolicy").any()
    assert sheets["Integrations"]["name"].tolist() == [i["name"] for i in doc.inventory["integrations"]]
    assert len(sheets["Tenant sweep"]) == len(doc.inventory["sweep"])
    assert sheets["Waivers"]["check"].tolist() == [w.check for w in doc.waivers]
    summary = dict(zip(sheets["Summary"]["Item"], sheets["Summary"]["Value"], strict=True))
    assert summary["Verdict"] == "Not compliant" and summary["FAIL findings"] == str(
        sum(f.status is Status.FAIL for f in doc.findings))
    book = openpyxl.load_workbook(demo / "findings.xlsx")
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
        assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]


def test_xlsx_cells_are_formula_safe_and_hold_controls(tmp_path: Path) -> None:
    from auditor.reports import xlsx_report

    doc = FindingsDocument(run=document_run(), summary={}, inventory={}, findings=(Finding(
        check_id="X", title="t", severity=Severity.LOW, status=Status.FAIL, integration="=cmd|' /C calc'!A0",
        resource="@SUM(1)", message="a\x1b[31m\x00b" + "L" * 40_000),))
    xlsx_report.write(doc, tmp_path)
    sheet = openpyxl.load_workbook(tmp_path / "findings.xlsx")["Findings"]
    values = {sheet.cell(1, c).value: sheet.cell(2, c).value for c in range(1, sheet.max_column + 1)}
    assert values["integration"] == "'=cmd|' /C calc'!A0" and values["resource"] == "'@SUM(1)"
    assert values["message"].startswith("a\\x1b[31m\\x00b") and len(values["message"]) <= 32_767


def document_run() -> Any:
    from auditor.models.findings import RunInfo

    return RunInfo(tenant_id="t", tenant_domain="d", tenant_name="n", collected_at="2026-01-01T00:00:00Z",
                   tool_version="0", baseline_sha256="", baseline_file="b.toml")


# --- remediation.ps1 ---------------------------------------------------------------------------------------

VERBS = {"New-ApplicationAccessPolicy", "Remove-ApplicationAccessPolicy", "Add-DistributionGroupMember",
         "Remove-DistributionGroupMember", "Set-DistributionGroup", "Set-Mailbox", "Update-MgUser",
         "Update-MgOauth2PermissionGrant", "Remove-MgOauth2PermissionGrant", "Get-MgApplication",
         "Get-MgServicePrincipal", "Remove-MgApplicationPassword", "Remove-MgServicePrincipalPassword",
         "Remove-MgApplicationOwnerByRef", "Remove-ManagementRoleAssignment",
         "Test-ApplicationAccessPolicy"}
Q = f"[{PS_QUOTES}]"
LITERAL = f"{Q}(?:[^{PS_QUOTES}\\r\\n]|{Q}{Q})*{Q}"
ARG = f"(?: (?:{LITERAL}(?:,{LITERAL})*|\\$[a-z]+\\.Id))?"
PARAM = f" -[A-Za-z0-9]+(?::\\$false|{ARG})"
COMMAND = re.compile(f"^(?:\\$[a-z]+ = )?(?P<verb>[A-Z][a-z]+-[A-Za-z0-9]+)(?P<params>(?:{PARAM})*)$")
READ_ONLY = ("Get-", "Test-")


def check_grammar(script: str) -> int:
    """Every line a comment, blank, or an allowlisted command whose arguments are single-quoted literals (or a
    `$var.Id` set by a Get- line); state-changing commands end in -WhatIf. Returns the number of commands."""
    commands = 0
    for line in script.splitlines():
        if not line or line.startswith("#"):
            continue
        match = COMMAND.match(line)
        assert match, f"not in the grammar: {line!r}"
        assert match["verb"] in VERBS, line
        assert line.endswith(" -WhatIf") != match["verb"].startswith(READ_ONLY), line
        commands += 1
    return commands


def test_the_demo_script_is_in_the_grammar_and_ordered_safely(demo: Path) -> None:
    script = (demo / "remediation.ps1").read_text(encoding="utf-8")
    assert "never runs this script" in script.lower()
    doc = document(demo)
    blocks = re.findall(r"^# \[(\d+)\] (\S+)", script, re.M)
    assert len(blocks) == sum(f.status is Status.FAIL and bool(f.fix) for f in doc.findings) > 30
    assert check_grammar(script) > 15
    first = {check: int(n) for n, check in reversed(blocks)}
    assert first["SCOPE-001"] < first["GRP-003"] < first["PERM-001"]  # restrict before removing, grant last
    assert "-Member 'cfo@contoso.com'" in script and "-Identity 'tickets_group@contoso.com'" in script
    assert "within 365 days" in script and "max_secret_lifetime_days" not in script


HOSTILE = ["'; Remove-Mailbox -Identity x #", "`whoami` `n", "$(Remove-Mailbox x)", "‘; Remove-Mailbox x; ’",
           "‚‛ mixed ' quotes ’", '"; Remove-Mailbox x; "', "a\nRemove-Mailbox x", "a\rb", "x\u2028y"]


@pytest.mark.parametrize("value", HOSTILE)
def test_quoting_holds_a_hostile_value(value: str) -> None:
    if any(c in value for c in "\n\r\u2028"):
        with pytest.raises(Unquotable):
            ps_quote(value)
        return
    quoted = ps_quote(value)
    assert re.fullmatch(LITERAL, quoted)
    # unquoting by PowerShell's rule (a doubled quote is one quote) gives the value back
    inner = re.sub(f"({Q}){Q}", r"\1", quoted[1:-1])
    assert inner == value


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_member_cannot_break_out_of_the_script(value: str) -> None:
    integ = Integration(name=value, app_id="aaaaaaaa-0000-4000-8000-000000000001", permissions=("Mail.Read",),
                        scope_group="q@contoso.com", mailboxes=("q@contoso.com",))
    findings = []
    for check, resource, evidence in (("GRP-003", value, {}), ("SCOPE-001", integ.app_id, {}),
                                      ("MBX-002", value, {"userPrincipalName": value})):
        fix = fix_for(check, resource, evidence, integ, f"why: {value}")
        findings.append(Finding(check_id=check, title=value, severity=Severity.HIGH, status=Status.FAIL,
                                integration=value, resource=resource, message=value, fix=fix))
    doc = FindingsDocument(run=document_run(), summary={}, inventory={}, findings=tuple(findings))
    script = ps1_report.render(doc)
    controls = any(c in value for c in "\n\r\u2028")
    assert check_grammar(script) >= (0 if controls else 3)  # a value with a line break is left to a person
    assert not [line for line in script.splitlines() if line.startswith("Remove-Mailbox")]


# --- OCSF ----------------------------------------------------------------------------------------------------


def test_ocsf_events_validate_as_compliance_findings(demo: Path, tmp_path: Path) -> None:
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

    code, _, err = run_cli("report", str(demo / "findings.json"), "-o", str(tmp_path), "-f", "ocsf")
    assert code == 0, err
    events = json.loads((tmp_path / "findings.ocsf.json").read_text(encoding="utf-8"))
    doc = document(demo)
    assert isinstance(events, list) and len(events) == len(doc.findings)
    for raw, finding in zip(events, doc.findings, strict=True):
        model = ComplianceFinding.model_validate(raw)  # the library's own validation
        assert model.model_dump(mode="json", exclude_none=True) == raw  # nothing dropped or coerced
        assert (raw["category_uid"], raw["class_uid"], raw["type_uid"], raw["activity_id"]) == (2, 2003, 200301, 1)
        assert raw["metadata"]["event_code"] == finding.check_id and raw["status_code"] == finding.status.value
        assert raw["metadata"]["tenant_uid"] == doc.run.tenant_id and isinstance(raw["time"], int)
        expected = {"PASS": 1, "FAIL": 3, "WAIVED": 3, "ERROR": 0, "SKIP": 99}[finding.status.value]
        assert raw["compliance"]["status_id"] == expected
        assert raw["status_id"] == (3 if finding.status is Status.WAIVED else 1)
        assert raw["severity_id"] == {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}[finding.severity]
    assert len({e["finding_info"]["uid"] for e in events}) == len(events)
    scope = next(e for e in events if e["metadata"]["event_code"] == "SCOPE-001" and e["status_code"] == "FAIL")
    assert "New-ApplicationAccessPolicy -AppId" in scope["remediation"]["desc"]
