"""`auditor demo` on the bundled tenant: the whole catalog evaluates over real HTTPS and PSRP, no ERROR."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.demo import DEMO_TENANT
from auditor.emulator.tenant import load_tenant
from tests.faults.conftest import REALISTIC


@pytest.fixture(scope="module", params=[None, REALISTIC], ids=["default", "realistic"])
def demo_run(request, tmp_path_factory) -> tuple[int, Path]:
    """The demo, with the emulator's default forms and with the undocumented ones farthest from them."""
    out = tmp_path_factory.mktemp("demo")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", str(out), "--quiet", *(["--realism", request.param] if request.param else [])])
    return int(exc.value.code), out


def test_demo_evaluates_every_check_with_no_error(demo_run):
    code, out = demo_run
    assert code == 1  # the demo tenant has drifted on purpose
    findings = json.loads((out / "findings.json").read_text())["findings"]
    assert [f for f in findings if f["status"] == "ERROR"] == []
    statuses: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        statuses[f["check_id"]].add(f["status"])
    assert len(statuses) == 31
    both_ways = {c for c, s in statuses.items() if {"PASS", "FAIL"} <= s}
    assert len(both_ways) >= 25, sorted(set(statuses) - both_ways)
    for name in ("snapshot.json", "findings.json", "findings.csv", "report.html", "junit.xml"):
        assert (out / name).stat().st_size > 0


def _members(doc: dict, group_address: str, seen: set[str] | None = None) -> set[str]:
    """Transitive members of a distribution group in the tenant file, written independently of the emulator."""
    seen = seen or set()
    groups = {g["PrimarySmtpAddress"].lower(): g for g in doc["exchange"]["distributionGroups"]}
    out: set[str] = set()
    for member in groups[group_address.lower()]["Members"]:
        member = member.lower()
        if member in groups and member not in seen:
            seen.add(member)
            out |= _members(doc, member, seen)
        elif member not in groups:
            out.add(member)
    return out


def _expected(doc: dict, app_id: str, mailbox: str) -> str:
    """docs/microsoft-facts.md: DenyAccess denies; else RestrictAccess grants; else any RestrictAccess denies."""
    groups = {g["PrimarySmtpAddress"].lower(): g for g in doc["exchange"]["distributionGroups"]}
    valid = [p for p in doc["exchange"]["applicationAccessPolicies"]
             if p["PolicyScopeGroupId"].lower() in groups
             and groups[p["PolicyScopeGroupId"].lower()]["RecipientTypeDetails"] == "MailUniversalSecurityGroup"
             and p["AppId"].lower() in (app_id.lower(), "*")]
    covers = [p for p in valid if mailbox.lower() in _members(doc, p["PolicyScopeGroupId"])]
    if any(p["AccessRight"] == "DenyAccess" for p in covers):
        return "Denied"
    if any(p["AccessRight"] == "RestrictAccess" for p in covers):
        return "Granted"
    return "Denied" if any(p["AccessRight"] == "RestrictAccess" for p in valid) else "Granted"


def test_collected_access_tests_follow_the_documented_semantics(demo_run):
    _, out = demo_run
    snapshot = json.loads((out / "snapshot.json").read_text())
    doc = load_tenant(DEMO_TENANT).doc
    rows = snapshot["sections"]["exchange.accessTests"]["data"]
    assert len(rows) >= 20
    for row in rows:
        assert row["AccessCheckResult"] == _expected(doc, row["AppId"], row["Identity"]), row
