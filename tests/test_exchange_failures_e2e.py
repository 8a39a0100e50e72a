"""Exchange failures end to end: one clear line on stderr, ERROR findings naming the cause, exit 3, reports."""

from __future__ import annotations

import json

import pytest

from auditor.cli import main
from auditor.collect.exchange_reader import read_exchange
from auditor.collect.run import collect
from auditor.demo import DEMO_BASELINE, DEMO_TENANT, emulator_baseline, emulator_settings, running_emulator
from auditor.engine import evaluate
from auditor.models.baseline import load_baseline
from auditor.models.findings import Status
from tests.faults.conftest import REALISTIC


@pytest.mark.parametrize("realism", [None, REALISTIC], ids=["default", "realistic"])
def test_missing_exchange_manage_as_app_is_error_findings_and_exit_3(capsys, tmp_path, realism):
    doc = json.loads(DEMO_TENANT.read_text())
    auditor_sp = next(sp["id"] for sp in doc["graph"]["servicePrincipals"]
                      if sp["appId"] == doc["emulator"]["clients"][0]["appId"])
    doc["graph"]["appRoleAssignments"] = [a for a in doc["graph"]["appRoleAssignments"]
                                          if not (a["principalId"] == auditor_sp
                                                  and a["appRoleId"] == "Exchange.ManageAsApp")]
    tenant = tmp_path / "tenant.json"
    tenant.write_text(json.dumps(doc))
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--tenant", str(tenant), "--out", str(tmp_path / "out"), "--quiet",
              *(["--realism", realism] if realism else [])])
    err = capsys.readouterr().err
    assert exc.value.code == 3
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Exchange.ManageAsApp" in lines[0] and "Traceback" not in err
    findings = json.loads((tmp_path / "out" / "findings.json").read_text())["findings"]
    errors = [f for f in findings if f["status"] == "ERROR"]
    assert {f["check_id"] for f in errors} >= {"GRP-001", "MBX-001", "SCOPE-004", "SCOPE-005", "TEN-001"}
    assert all("Exchange.ManageAsApp" in f["message"] for f in errors)
    # Graph-only checks are still judged
    assert any(f["check_id"] == "PERM-003" and f["status"] == "FAIL" for f in findings)
    for name in ("report.html", "findings.csv", "junit.xml", "snapshot.json"):
        assert (tmp_path / "out" / name).exists()


@pytest.mark.parametrize("realism", [None, REALISTIC], ids=["default", "realistic"])
def test_wrong_jump_host_password_names_the_cause(realism):
    with running_emulator(DEMO_TENANT, realism=realism) as server:
        base = emulator_baseline(load_baseline(DEMO_BASELINE), server)
        settings = emulator_settings(server)
        settings.psrp_password = "not-the-password"
        snapshot = collect(base, settings, read_exchange)
    findings = evaluate(snapshot, base).findings
    errors = [f for f in findings if f.status is Status.ERROR]
    assert errors and all("rejected the credentials" in f.message for f in errors)
    assert "not-the-password" not in snapshot.to_json()
