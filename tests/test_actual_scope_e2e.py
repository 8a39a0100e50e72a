"""The actual scope end to end (issue 13): a tenant file, `auditor demo` (real msal, requests and pypsrp against
the emulator), findings.json. Every integration has no canary configured (no explicit canaries, no sample), so
whatever SCOPE-005 and SCOPE-007 catch, they catch from the actual scope alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from tests.make_demo_tenant import AUDITOR, DOMAIN, EXO, GRAPH, TENANT_ID, app, grants, mailbox, oid, sp, user

WRONG_GROUP = "a1000000-0000-4000-8000-000000000001"  # policy on cctr_pilot_group (holds hr@), not the scope group
DENY_ONLY = "a2000000-0000-4000-8000-000000000002"  # a DenyAccess policy and nothing else
ORG_RBAC = "a3000000-0000-4000-8000-000000000003"  # RBAC for Applications with no scope
EXEC_FILTER = "a4000000-0000-4000-8000-000000000004"  # a management scope whose filter matches the CEO
NESTED = "a5000000-0000-4000-8000-000000000005"  # the scope group nests a group holding a user's mailbox
COMPLIANT = "a6000000-0000-4000-8000-000000000006"

PEOPLE = ["ceo", "hr", "alice", "bob", "exchange-admin"]
QUEUES = ["q-support", "q-sales", "q-archive", "q-tickets"]


def tenant() -> dict[str, Any]:
    mail = [(GRAPH, "Mail.ReadWrite")]
    policy_apps = {WRONG_GROUP: "Wrong Group", DENY_ONLY: "Deny Only", NESTED: "Nested", COMPLIANT: "Compliant"}
    rbac_apps = {ORG_RBAC: "Org RBAC", EXEC_FILTER: "Exec Filter"}
    auditor = [(GRAPH, "Directory.Read.All"), (EXO, "Exchange.ManageAsApp")]  # the README's least set
    applications = [app(AUDITOR, "Mailbox Access Auditor", auditor)]
    applications += [app(a, n, mail) for a, n in policy_apps.items()] + [app(a, n, []) for a, n in rbac_apps.items()]
    principals = [sp(AUDITOR, "Mailbox Access Auditor")] + [sp(a, n) for a, n in {**policy_apps, **rbac_apps}.items()]
    assignments = grants(AUDITOR, auditor)
    for app_id in policy_apps:
        assignments += grants(app_id, mail)
    mailboxes = [mailbox(q, "SharedMailbox", CustomAttribute1=q) for q in QUEUES]
    mailboxes += [mailbox(p, "UserMailbox", Department="Executive" if p == "ceo" else "Staff") for p in PEOPLE]

    def group(name: str, members: list[str]) -> dict[str, Any]:
        return {"Name": name, "DisplayName": name, "PrimarySmtpAddress": f"{name}@contoso.com",
                "RecipientTypeDetails": "MailUniversalSecurityGroup", "ExternalDirectoryObjectId": oid("group", name),
                "ManagedBy": [], "MemberJoinRestriction": "Closed", "Members": [f"{m}@contoso.com" for m in members]}

    def policy(app_id: str, scope: str, right: str = "RestrictAccess") -> dict[str, Any]:
        return {"AppId": app_id, "PolicyScopeGroupId": f"{scope}@contoso.com", "AccessRight": right}

    return {
        "tenant": {"id": TENANT_ID, "defaultDomain": DOMAIN, "displayName": "Contoso"},
        "graph": {"applications": applications, "servicePrincipals": principals, "appRoleAssignments": assignments,
                  "oauth2PermissionGrants": [],
                  "users": [user(p) for p in PEOPLE] + [user(q, enabled=False) for q in QUEUES]},
        "exchange": {
            "mailboxes": mailboxes,
            "distributionGroups": [
                group("cctr_sec_group", ["q-support"]), group("cctr_pilot_group", ["q-support", "hr"]),
                group("nested_scope", ["q-sales", "helpers"]), group("helpers", ["alice"]),
                group("deny_block", ["bob"]), group("compliant_group", ["q-tickets"])],
            "applicationAccessPolicies": [
                policy(WRONG_GROUP, "cctr_pilot_group"), policy(DENY_ONLY, "deny_block", "DenyAccess"),
                policy(NESTED, "nested_scope"), policy(COMPLIANT, "compliant_group")],
            "servicePrincipals": [{"AppId": a, "ObjectId": oid("sp", a), "DisplayName": n}
                                  for a, n in rbac_apps.items()],
            "managementScopes": [
                {"Name": "Archive queue", "RecipientRestrictionFilter": "CustomAttribute1 -eq 'q-archive' -or "
                                                                        "Department -eq 'Executive'"}],
            "managementRoleAssignments": [
                {"Name": "Org-Read", "Role": "Application Mail.Read", "App": oid("sp", ORG_RBAC)},
                {"Name": "Exec-Read", "Role": "Application Mail.Read", "App": oid("sp", EXEC_FILTER),
                 "CustomResourceScope": "Archive queue"}],
        },
        "emulator": {"clients": [{"appId": AUDITOR, "secret": "test-only-secret-1"}],
                     "jumpHost": {"username": "CONTOSO\\svc-audit", "password": "test-only-password-1"}},
    }


def integration(name: str, app_id: str, queues: list[str], scope_group: str = "", model: str = "policy",
                permissions: str = '["Mail.ReadWrite"]') -> str:
    listed = ", ".join(f'"{q}@contoso.com"' for q in queues)
    group = f'scope_group = "{scope_group}@contoso.com"\n' if scope_group else ""
    return (f'[[integration]]\nname = "{name}"\napp_id = "{app_id}"\npermissions = {permissions}\n{group}'
            f'mailboxes = [{listed}]\naccess_model = "{model}"\n\n')


BASELINE = (f'[tenant]\nid = "{TENANT_ID}"\ndomain = "{DOMAIN}"\n\n'
            '[policy]\ncanary_sample_size = 0\n\n[sweep]\nenabled = true\n\n'
            + integration("Wrong Group", WRONG_GROUP, ["q-support"], "cctr_sec_group")
            + integration("Deny Only", DENY_ONLY, ["q-support"], "cctr_sec_group")
            + integration("Org RBAC", ORG_RBAC, ["q-archive"], model="rbac", permissions='["Mail.Read"]')
            + integration("Exec Filter", EXEC_FILTER, ["q-archive"], model="rbac", permissions='["Mail.Read"]')
            + integration("Nested", NESTED, ["q-sales"], "nested_scope")
            + integration("Compliant", COMPLIANT, ["q-tickets"], "compliant_group"))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    work = tmp_path_factory.mktemp("actual-scope")
    (work / "tenant.json").write_text(json.dumps(tenant()), encoding="utf-8")
    (work / "baseline.toml").write_text(BASELINE, encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["demo", "--tenant", str(work / "tenant.json"), "--baseline", str(work / "baseline.toml"),
              "--out", str(work / "out"), "--quiet"])
    findings = json.loads((work / "out" / "findings.json").read_text(encoding="utf-8"))
    snapshot = json.loads((work / "out" / "snapshot.json").read_text(encoding="utf-8"))
    return findings, snapshot


def _of(findings: dict[str, Any], integration: str, check: str) -> list[dict[str, Any]]:
    return [f for f in findings["findings"] if f["integration"] == integration and f["check_id"] == check]


def _reachable(findings: dict[str, Any], integration: str) -> set[str]:
    return {f["resource"] for f in _of(findings, integration, "SCOPE-005") if f["status"] == "FAIL"}


def test_no_canary_configured_and_nothing_errors(run: Any) -> None:
    findings, snapshot = run
    assert not [f for f in findings["findings"] if f["status"] == "ERROR"]
    canaries = snapshot["sections"]["canaries"]["data"]
    assert all(c["explicit"] == [] and c["sampled"] == [] for c in canaries.values())


def test_policy_on_the_wrong_group_reaches_hr(run: Any) -> None:
    findings, _ = run
    (reach,) = _of(findings, "Wrong Group", "SCOPE-007")
    assert reach["status"] == "FAIL" and reach["severity"] == "critical"
    assert reach["message"].startswith("reaches 1 mailbox") and "cctr_pilot_group@contoso.com" in reach["message"]
    assert "e.g. hr@contoso.com" in reach["message"] and reach["evidence"]["mailboxes"] == ["hr@contoso.com"]
    assert _reachable(findings, "Wrong Group") == {"hr@contoso.com"}
    (hr,) = [f for f in _of(findings, "Wrong Group", "SCOPE-005") if f["resource"] == "hr@contoso.com"]
    assert "root cause: SCOPE-002" in hr["message"] and hr["remediation"].startswith("Fix the root cause first")
    assert "root cause: SCOPE-002" in reach["message"]


def test_deny_only_app_reaches_everything_but_the_denied(run: Any) -> None:
    findings, snapshot = run
    (reach,) = _of(findings, "Deny Only", "SCOPE-007")
    assert reach["status"] == "FAIL"
    assert reach["message"] == ("can reach 7 mailboxes beyond its 1 queue mailbox: no valid RestrictAccess "
                                "policy (root cause: SCOPE-001: unrestricted mailbox access: holds "
                                "Mail.ReadWrite through Entra with no valid RestrictAccess policy)")
    everyone = {f"{m}@contoso.com" for m in [*QUEUES, *PEOPLE]}
    assert _reachable(findings, "Deny Only") == everyone - {"q-support@contoso.com", "bob@contoso.com"}
    bob = [f for f in _of(findings, "Deny Only", "SCOPE-005") if f["resource"] == "bob@contoso.com"]
    assert bob == []  # kept out by the DenyAccess group: not in the actual scope, so no scope canary
    assert snapshot["sections"]["exchange.actualScope"]["data"]["apps"][DENY_ONLY]["policy"]["excluded"] == 1


def test_organisation_wide_rbac_assignment(run: Any) -> None:
    findings, _ = run
    (reach,) = _of(findings, "Org RBAC", "SCOPE-007")
    assert reach["status"] == "FAIL" and "an organisation-wide RBAC assignment" in reach["message"]
    assert reach["message"].startswith("can reach 8 mailboxes beyond its 1 queue mailbox:")
    assert _reachable(findings, "Org RBAC") == {f"{m}@contoso.com" for m in [*QUEUES, *PEOPLE]} - {
        "q-archive@contoso.com"}


def test_management_scope_filter_matching_an_executive(run: Any) -> None:
    findings, snapshot = run
    (reach,) = _of(findings, "Exec Filter", "SCOPE-007")
    assert reach["status"] == "FAIL" and "e.g. ceo@contoso.com" in reach["message"]
    assert "Archive queue" in reach["message"]
    assert _reachable(findings, "Exec Filter") == {"ceo@contoso.com"}
    part = snapshot["sections"]["exchange.actualScope"]["data"]["apps"][EXEC_FILTER]["rbac"]["parts"][0]
    assert part["scope_type"] == "ManagementScope" and part["count"] == 2 and part["members"] == ["ceo@contoso.com"]


def test_nested_group_drags_in_a_user_mailbox(run: Any) -> None:
    findings, _ = run
    (reach,) = _of(findings, "Nested", "SCOPE-007")
    assert reach["status"] == "FAIL" and "alice@contoso.com" in reach["message"]
    (alice,) = [f for f in _of(findings, "Nested", "SCOPE-005") if f["resource"] == "alice@contoso.com"]
    assert alice["status"] == "FAIL" and alice["severity"] == "critical"
    assert "root cause: GRP-003 alice@contoso.com" in alice["message"]  # critical here, high under GRP-003


def test_compliant_app_passes_and_reach_is_in_the_inventory(run: Any) -> None:
    findings, _ = run
    (reach,) = _of(findings, "Compliant", "SCOPE-007")
    assert reach["status"] == "PASS"
    assert [f["status"] for f in _of(findings, "Compliant", "SCOPE-005")] == ["SKIP"]  # nothing beyond the queue
    reaches = {i["name"]: i["reach"]["can_reach"] for i in findings["inventory"]["integrations"]}
    assert reaches["Compliant"] == "1 mailbox through group compliant_group@contoso.com"
    assert reaches["Deny Only"] == "all 8 mailboxes (all but 1 kept out by DenyAccess)"
    assert reaches["Org RBAC"] == "all 9 mailboxes"
    assert reaches["Exec Filter"] == "2 mailboxes through scope Archive queue"
    swept = {a["app_id"]: a["reach"]["can_reach"] for a in findings["inventory"]["sweep"] if a.get("reach")}
    assert swept[WRONG_GROUP] == "2 mailboxes through group cctr_pilot_group@contoso.com"


def test_report_shows_each_apps_reach(run: Any, tmp_path: Path) -> None:
    findings, _ = run
    assert findings["inventory"]["integrations"][0]["reach"]["beyond_queues"] == 1
