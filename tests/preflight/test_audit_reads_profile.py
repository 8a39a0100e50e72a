"""`auditor audit` names the recorded preflight profile in its run facts and report header."""

from __future__ import annotations

import json
from pathlib import Path

from auditor.collect.shell import CmdletErrorInfo
from tests.faults.conftest import run_cli
from tests.preflight.support import emulated


def _audit(baseline: Path, out: Path, *args: str) -> tuple[int, str, str]:
    return run_cli("audit", "--baseline", str(baseline), "--out", str(out), "--no-history", "--quiet", *args)


def test_a_preflight_beside_the_baseline_is_named_in_the_reports(tmp_path: Path) -> None:
    with emulated(tmp_path, realism="mailboxId=mailbox_sid") as baseline:
        code, _, err = run_cli("preflight", "--baseline", str(baseline), "--out", str(tmp_path / "preflight.json"))
        assert code == 0, err
        code, _, err = _audit(baseline, tmp_path / "out")
    assert code in (0, 1), err
    findings = json.loads((tmp_path / "out" / "findings.json").read_text())
    facts = findings["run"]["collection"]
    assert facts["preflight"]["file"] == "preflight.json"
    assert facts["preflight"]["realism"]["mailboxId"] == "mailbox_sid"
    assert facts["observed_profile"].startswith("scopeIdentityGuid=exchange_guid,mailboxId=mailbox_sid,")
    snapshot = json.loads((tmp_path / "out" / "snapshot.json").read_text())
    assert snapshot["collection"]["observed_profile"] == facts["observed_profile"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Observed profile" in html and "mailboxId=mailbox_sid" in html


def test_without_a_record_the_report_names_none(tmp_path: Path) -> None:
    with emulated(tmp_path) as baseline:
        code, _, err = _audit(baseline, tmp_path / "out")
    assert code in (0, 1), err
    assert "observed_profile" not in json.loads((tmp_path / "out" / "findings.json").read_text())["run"]["collection"]
    assert "Observed profile" not in (tmp_path / "out" / "report.html").read_text()


def test_a_bad_or_foreign_record_is_exit_2_before_anything_is_collected(tmp_path: Path) -> None:
    (tmp_path / "garbage.json").write_text("{not json")
    foreign = {"schema": "auditor-preflight/1", "tenant_id": "99999999-2222-3333-4444-555555555555",
               "realism": {"mailboxId": "guid"}}
    (tmp_path / "foreign.json").write_text(json.dumps(foreign))
    (tmp_path / "odd.json").write_text(json.dumps({**foreign, "tenant_id": "", "realism": {"mailboxId": "smtp"}}))
    with emulated(tmp_path) as baseline:
        for name, words in (("garbage.json", "not JSON"), ("foreign.json", "recorded for tenant"),
                            ("odd.json", "mailboxId"), ("absent.json", "cannot read")):
            code, out, err = _audit(baseline, tmp_path / name.replace(".json", ""), "--preflight",
                                    str(tmp_path / name))
            assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and words in err, err
            assert not (tmp_path / name.replace(".json", "")).exists()


def test_a_refused_enum_value_is_not_retried_as_transient() -> None:
    """PowerShell's enum refusal ends "... and try again"; retrying it only cost preflight 3.5 s of backoff."""
    error = CmdletErrorInfo("Cannot bind parameter 'RoleAssigneeType'. Cannot convert value \"ServicePrincipal\" to "
                            "type \"RoleAssigneeType\". Error: \"Unable to match the identifier name ServicePrincipal "
                            "to a valid enumerator name. Specify one of the following enumerator names and try again: "
                            "User, SecurityGroup\"", "CannotConvertArgumentNoMessage,Get-ManagementRoleAssignment",
                            "ServicePrincipal", 0)
    assert not error.transient
    assert CmdletErrorInfo("The server is busy, try again later", "", None, 0).transient
