"""`auditor preflight` against the emulator: the needs (OK, or MISSING with the fix), the observed realism
profile, and a record that holds no tenant text."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from auditor.emulator.realism import PROFILES
from auditor.preflight.exchange_needs import AUDIT_CMDLETS
from tests.faults.conftest import run_cli
from tests.preflight.support import demo_doc, emulated, preflight, without_directory_read_all

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _no_policies() -> dict[str, Any]:
    doc = demo_doc()
    doc["exchange"]["applicationAccessPolicies"] = []
    return doc


# Every realism value, each over one of the three transports in turn (every transport sees several values).
VALUES = [(k, v) for k, values in PROFILES.items() for v in values]
TRANSPORTS = ("psrp", "rest", "local")


@pytest.mark.parametrize(("key", "value", "transport"),
                         [(k, v, TRANSPORTS[i % len(TRANSPORTS)]) for i, (k, v) in enumerate(VALUES)])
def test_preflight_names_the_profile_the_tenant_serves(tmp_path: Path, key: str, value: str, transport: str) -> None:
    doc = _no_policies() if key == "noPolicies" else demo_doc()  # only a tenant without policies shows it
    run = preflight(tmp_path, doc, f"{key}={value}", transport)
    assert run.code == 0, run.out + run.err
    record = run.record
    assert record["realism"][key] == value
    assert f"{key}={value}" in run.line("observed profile:")
    if key != "noPolicies":  # the demo tenant has policies, so that one fact is not observed
        assert record["unobserved"] == {"noPolicies": "not_observed"}
        assert set(record["realism"]) == set(PROFILES) - {"noPolicies"}
    else:
        assert set(record["unobserved"]) == {"scopeIdentityGuid"}  # no policy, so no scope to compare


def test_the_demo_tenant_is_ready(tmp_path: Path) -> None:
    run = preflight(tmp_path)
    assert run.code == 0 and run.err == ""
    needs = [line for line in run.out.splitlines() if line.startswith(("Graph:", "Exchange:", "Sign-in"))]
    assert needs and all(re.search(r"  OK( |$)", line) for line in needs), needs
    assert {f"Exchange: {c}" for c in AUDIT_CMDLETS} <= {n["need"] for n in run.record["needs"]}
    assert len({line.index(" OK") for line in needs}) == 1  # aligned
    assert run.record["complete"] is True and run.out.splitlines()[-2].endswith("ready to audit")
    assert stat.S_IMODE((tmp_path / "preflight.json").stat().st_mode) == 0o600
    types = run.record["output_types"]
    assert set(types) == set(AUDIT_CMDLETS)
    assert types["Test-ApplicationAccessPolicy"].endswith(".ApplicationAccessPolicyTestResult")


def test_missing_directory_read_all_and_an_exchange_role(tmp_path: Path) -> None:
    doc = without_directory_read_all(demo_doc())
    doc["emulator"]["clients"][0]["deniedCmdlets"] = ["Test-ApplicationAccessPolicy"]
    run = preflight(tmp_path, doc)
    assert run.code == 3
    grants = run.line("Graph: oauth2PermissionGrants")
    assert "MISSING" in grants and "Directory.Read.All" in grants and "admin consent" in grants
    assert "Application.Read.All" not in grants  # the permission this read needs, not one the app has
    test = run.line("Exchange: Test-ApplicationAccessPolicy")
    assert "MISSING" in test and "`Get-ManagementRole -Cmdlet Test-ApplicationAccessPolicy`" in test
    missing = {n["need"]: n["fix"] for n in run.record["needs"] if n["status"] != "OK"}
    assert set(missing) == {"Graph: oauth2PermissionGrants", "Exchange: Test-ApplicationAccessPolicy"}
    assert run.record["complete"] is False
    assert "mailboxId" in run.record["unobserved"]  # the test that would show it could not run


@pytest.mark.parametrize("cmdlet", [c for c in AUDIT_CMDLETS if c != "Get-EXOMailbox"])
def test_each_denied_cmdlet_is_named_with_its_fix(tmp_path: Path, cmdlet: str) -> None:
    doc = demo_doc()
    doc["emulator"]["clients"][0]["deniedCmdlets"] = [cmdlet]
    run = preflight(tmp_path, doc)
    assert run.code == 3
    missing = [n for n in run.record["needs"] if n["status"] != "OK"]
    assert [n["need"] for n in missing] == [f"Exchange: {cmdlet}"]
    assert f"Get-ManagementRole -Cmdlet {cmdlet}" in missing[0]["fix"]


def test_without_get_exomailbox_the_audit_falls_back_so_nothing_is_missing(tmp_path: Path) -> None:
    doc = demo_doc()
    doc["emulator"]["clients"][0]["deniedCmdlets"] = ["Get-EXOMailbox"]
    run = preflight(tmp_path, doc)
    assert run.code == 0 and "Get-Mailbox instead" in run.line("Exchange: Get-EXOMailbox")


def test_without_exchange_manage_as_app_the_connection_is_missing(tmp_path: Path) -> None:
    doc = demo_doc()
    doc["graph"]["appRoleAssignments"] = [ra for ra in doc["graph"]["appRoleAssignments"]
                                          if ra["appRoleId"] != "Exchange.ManageAsApp"]
    run = preflight(tmp_path, doc)
    assert run.code == 3
    assert "Exchange.ManageAsApp" in run.line("Exchange: connect (psrp)")
    assert all("UNCHECKED" in run.line(f"Exchange: {c}") for c in AUDIT_CMDLETS)


def test_a_wrong_secret_is_a_missing_sign_in(tmp_path: Path) -> None:
    with emulated(tmp_path, demo_doc()) as baseline:
        os.environ["AUDITOR_CLIENT_SECRET"] = "not-the-secret"  # emulated() puts the real one back afterwards
        code, out, _ = run_cli("preflight", "--baseline", str(baseline))
    lines = out.splitlines()
    assert code == 3 and "MISSING" in lines[0] and lines[0].startswith("Sign-in")
    assert all("UNCHECKED" in line for line in lines if line.startswith("Exchange:"))


def _tenant_text(doc: Any, key: str = "") -> set[str]:
    """Every name, address and display name in a tenant file (short plain words like "Owner" are our own
    vocabulary too, so they do not count)."""
    if isinstance(doc, dict):
        return {t for k, v in doc.items() for t in _tenant_text(v, k)}
    if isinstance(doc, list):
        return {t for v in doc for t in _tenant_text(v, key)}
    distinctive = len(doc) >= 6 or any(c in doc for c in "@ .0123456789") if isinstance(doc, str) else False
    if isinstance(doc, str) and not GUID.match(doc) and distinctive and (
            "@" in doc or re.search(r"name|mail|address|alias|description|department|members|managedby", key, re.I)):
        return {doc}
    return set()


@pytest.mark.parametrize("realism", ["", "scopeIdentityGuid=entra_object_id,mailboxId=mailbox_sid"])
def test_the_record_holds_no_tenant_text(tmp_path: Path, realism: str) -> None:
    doc = without_directory_read_all(demo_doc())
    doc["emulator"]["clients"][0]["deniedCmdlets"] = ["Get-ManagementScope"]
    run = preflight(tmp_path, doc, realism or None)
    text = (tmp_path / "preflight.json").read_text(encoding="utf-8")
    strings = _tenant_text({k: v for k, v in doc.items() if k != "emulator"})
    assert len(strings) > 50  # the check has teeth: names, addresses, display names
    leaked = sorted(s for s in strings if s.lower() in text.lower())
    assert leaked == []
    assert run.code == 3 and json.loads(text)["tenant_id"] == doc["tenant"]["id"]


def test_the_local_transport_records_the_versions(tmp_path: Path) -> None:
    run = preflight(tmp_path, None, None, "local")
    assert run.code == 0, run.out
    assert "OK" in run.line("Exchange: local PowerShell 7 and ExchangeOnlineManagement")
    assert set(run.record["versions"]) == {"powershell_version", "module_version"}
    assert run.record["realism"]["mailboxId"] == "guid"


def test_the_rest_transport(tmp_path: Path) -> None:
    run = preflight(tmp_path, None, "mailboxId=exchange_guid", "rest")
    assert run.code == 0, run.out
    assert run.record["realism"]["mailboxId"] == "exchange_guid"
    assert run.record["exchange_transport"] == "rest"


def test_json_on_stdout(tmp_path: Path) -> None:
    run = preflight(tmp_path, None, None, "psrp", "--json")
    assert run.code == 0 and json.loads(run.out) == run.record


def test_a_missing_baseline_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, out, err = run_cli("preflight", "--baseline", str(tmp_path / "nope.toml"))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
