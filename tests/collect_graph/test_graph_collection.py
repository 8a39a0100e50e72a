"""Issue 3 acceptance: the real msal and requests against the emulator."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from auditor.cli import main
from auditor.collect.auth import Credentials
from auditor.collect.http import RetryPolicy
from auditor.collect.run import collect
from auditor.emulator.faults import FaultPlan
from auditor.engine import evaluate
from auditor.models.findings import Status
from auditor.models.snapshot import SectionStatus
from tests.collect_graph.conftest import collect_demo, emulated, graph_only, mutated
from tests.make_demo_tenant import AUDITOR, CONTACT_CENTER, TICKETING

SECRET = "demo-only-auditor-secret-4c1e9"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_graph_sections_hold_what_the_checks_need(clean_snapshot):
    sections = clean_snapshot.sections
    for name in ("graph.resources", "graph.applications", "graph.servicePrincipals", "graph.appRoleAssignments",
                 "graph.oauth2PermissionGrants", "graph.users"):
        assert sections[name].status is SectionStatus.OK, (name, sections[name].error)
    apps = {a["appId"]: a for a in sections["graph.applications"].data}
    assert [o["userPrincipalName"] for o in apps[CONTACT_CENTER]["owners"]] == ["owner@contoso.com"]
    assert "owners" not in apps["ffffffff-0000-4000-8000-000000000012"]  # sweep apps: owners are not needed
    resources = {r["appId"]: r for r in sections["graph.resources"].data}
    assert {"00000003-0000-0000-c000-000000000000", "00000002-0000-0ff1-ce00-000000000000"} <= set(resources)
    assert any(role["value"] == "Mail.ReadWrite" for role in resources["00000003-0000-0000-c000-000000000000"]
               ["appRoles"])
    queried = set(sections["graph.appRoleAssignments"].queried or ())
    assert {q.split(":")[0] for q in queried} == {"resource", "principal"}
    users = {u["mail"]: u for u in sections["graph.users"].data}
    assert users["billing@contoso.com"]["accountEnabled"] is True
    assert users["support@contoso.com"]["accountEnabled"] is False


def test_graph_verdicts_on_the_demo_tenant(clean_snapshot):
    from auditor.demo import DEMO_BASELINE
    from auditor.models.baseline import load_baseline

    findings = evaluate(clean_snapshot, load_baseline(DEMO_BASELINE)).findings
    by_key = {(f.check_id, f.integration, f.resource): f.status for f in findings}
    assert by_key[("APP-001", "Contact Center", CONTACT_CENTER)] is Status.PASS
    assert by_key[("PERM-003", "Ticketing", TICKETING)] is Status.FAIL
    assert by_key[("CRED-006", "Ticketing", TICKETING)] is Status.FAIL
    assert by_key[("APP-001", "Old Fax Gateway", "dddddddd-0000-4000-8000-000000000004")] is Status.FAIL
    assert by_key[("TEN-004", "", "ffffffff-0000-4000-8000-000000000013")] is Status.FAIL
    assert by_key[("MBX-002", "Ticketing", "billing@contoso.com")] is Status.FAIL


def test_certificate_sign_in_gives_the_same_evidence(tenant_file, clean_snapshot):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # x5t/RS256 needs RSA
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auditor")])
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()

    def use_certificate(doc):
        doc["emulator"]["clients"] = [{"appId": AUDITOR, "certificate": cert_pem, "privateKey": key_pem}]

    snapshot = collect_demo(tenant_file(mutated(use_certificate)))
    assert snapshot.collection.get("sign_in_error") is None
    assert graph_only(snapshot) == graph_only(clean_snapshot)


@pytest.mark.parametrize(("change", "cause"), [
    (lambda doc: doc["emulator"]["clients"][0].update(secretExpires="now-1d"), "the client secret has expired"),
    (lambda doc: doc["emulator"]["clients"][0].update(appId="99999999-9999-4999-8999-999999999999"),
     "not registered in this tenant"),
])
def test_sign_in_errors_become_one_line_error_findings_and_exit_3(capsys, tmp_path, tenant_file, change, cause):
    path = tenant_file(mutated(change))
    code, _, err = run_cli(capsys, "demo", "--tenant", str(path), "--out", str(tmp_path / "out"))
    assert code == 3
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and cause in lines[0] and "Traceback" not in err
    doc = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert doc["findings"] and all(f["status"] in ("ERROR", "SKIP") for f in doc["findings"])
    assert any(cause in f["message"] for f in doc["findings"])
    assert (tmp_path / "out" / "findings.csv").exists() and (tmp_path / "out" / "snapshot.json").exists()


def test_wrong_secret_names_the_cause():
    with emulated() as (_, base, settings):
        settings.credentials = Credentials(settings.credentials.client_id, secret="not-the-secret")
        snapshot = collect(base, settings)
    assert "the client secret is wrong (AADSTS7000215)" in snapshot.collection["sign_in_error"]
    assert all(s.status is SectionStatus.ERROR for s in snapshot.sections.values())


def test_token_error_fault_maps_to_its_cause():
    snapshot = collect_demo(faults=FaultPlan(token_error=7000222))
    assert "expired" in snapshot.collection["sign_in_error"]


def test_paging_across_several_pages(tenant_file):
    def many_apps(doc):
        for n in range(2100):
            app_id = f"77777777-0000-4000-8000-{n:012d}"
            doc["graph"]["servicePrincipals"].append({"id": f"66666666-0000-4000-8000-{n:012d}", "appId": app_id,
                                                      "displayName": f"Filler {n}",
                                                      "appOwnerOrganizationId": "99999999-0000-4000-8000-000000000099"})

    with emulated(tenant_file(mutated(many_apps))) as (server, base, settings):
        snapshot = collect(base, settings)
        routes = server.counters.snapshot()
    assert len(snapshot.sections["graph.servicePrincipals"].data) == 2100 + 12
    assert routes["GET /v1.0/servicePrincipals"] == 3  # 999 + 999 + 114, by @odata.nextLink


def test_batch_carries_many_integrations_in_few_requests(tenant_file, tmp_path):
    from auditor.demo import DEMO_BASELINE
    from auditor.models.baseline import parse_baseline

    extra = "".join(f'''
[[integration]]
name = "App {n}"
app_id = "77777777-0000-4000-8000-{n:012d}"
permissions = ["Mail.Read"]
scope_group = "cctr_sec_group@contoso.com"
''' for n in range(45))

    def many_integrations(doc):
        for n in range(45):
            app_id = f"77777777-0000-4000-8000-{n:012d}"
            doc["graph"]["applications"].append({"id": f"55555555-0000-4000-8000-{n:012d}", "appId": app_id,
                                                 "displayName": f"App {n}", "owners": []})
            doc["graph"]["servicePrincipals"].append({"id": f"66666666-0000-4000-8000-{n:012d}", "appId": app_id,
                                                      "displayName": f"App {n}"})

    base = parse_baseline(DEMO_BASELINE.read_text() + extra, "many.toml")
    with emulated(tenant_file(mutated(many_integrations)), baseline=base) as (server, aimed, settings):
        snapshot = collect(aimed, settings)
        routes = server.counters.snapshot()
    apps = [a for a in snapshot.sections["graph.applications"].data if a["appId"].startswith("77777777")]
    assert len(apps) == 45 and all(a["owners"] == [] for a in apps)
    # 50 integrations: owners (49 registrations here), assignments and grants (48 service principals) in
    # ceil(n/20) = 3 batches each, plus one for users
    assert routes["POST /v1.0/$batch"] == 3 * 3 + 1
    assert routes["batch:GET /v1.0/applications/{id}/owners"] == 49


def test_throttling_and_503s_are_recovered_with_the_same_evidence(clean_snapshot):
    plan = FaultPlan(seed=3, throttle_every=4, retry_after_s=0, error_rate=0.15, drop_every=9)
    snapshot = collect_demo(faults=plan, retry=RetryPolicy(max_attempts=8, base_backoff_s=0.01))
    assert graph_only(snapshot) == graph_only(clean_snapshot)
    assert sum(snapshot.collection["graph_requests"].values()) > sum(clean_snapshot.collection["graph_requests"]
                                                                     .values())


def test_persistent_outage_is_error_naming_the_cause_and_bounded():
    snapshot = collect_demo(faults=FaultPlan(graph_down=True), retry=RetryPolicy(max_attempts=3, base_backoff_s=0.01))
    section = snapshot.sections["graph.servicePrincipals"]
    assert section.status is SectionStatus.ERROR and "HTTP 503" in (section.error or "")


def test_missing_read_role_gives_errors_naming_the_permission(tenant_file):
    def drop_user_read(doc):
        auditor_sp = next(sp["id"] for sp in doc["graph"]["servicePrincipals"] if sp["appId"] == AUDITOR)
        for a in doc["graph"]["appRoleAssignments"]:  # the README's Directory.Read.All, narrowed to apps only
            if a["principalId"] == auditor_sp and a["appRoleId"] == "Directory.Read.All":
                a["appRoleId"] = "Application.Read.All"

    from auditor.demo import DEMO_BASELINE
    from auditor.models.baseline import load_baseline

    snapshot = collect_demo(tenant_file(mutated(drop_user_read)))
    users = snapshot.sections["graph.users"]
    assert users.status is SectionStatus.ERROR
    assert "403" in (users.error or "") and "User.Read.All" in (users.error or "")
    findings = evaluate(snapshot, load_baseline(DEMO_BASELINE)).findings
    errors = [f for f in findings if f.status is Status.ERROR and f.check_id == "MBX-002"]
    assert {f.resource for f in errors} == {"support@contoso.com", "sales@contoso.com", "helpdesk@contoso.com",
                                           "billing@contoso.com", "hr-queue@contoso.com", "archive@contoso.com",
                                           "survey@contoso.com"}
    assert all("User.Read.All" in f.message for f in errors)


def test_the_auditors_secret_appears_in_no_output(capsys, tmp_path, tenant_file, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    forms = {SECRET, base64.b64encode(SECRET.encode()).decode(), SECRET.replace("-", "%2D")}
    for args in (["demo", "--out", str(tmp_path / "ok")],
                 ["demo", "--out", str(tmp_path / "bad"), "--tenant",
                  str(tenant_file(mutated(lambda d: d["emulator"]["clients"][0].update(secretExpires="now-1d"))))]):
        _, out, err = run_cli(capsys, *args)
        outputs = [p for p in tmp_path.rglob("*") if p.is_file() and "tenant" not in p.name]  # tenant files hold it
        texts = [out, err, caplog.text] + [p.read_text(errors="replace") for p in outputs]
        for text in texts:
            for form in forms:
                assert form not in text


@pytest.mark.parametrize(("content", "needle"), [
    ("{broken", "invalid JSON"),
    (json.dumps({"tenant": {"id": "x"}}), "tenant"),
])
def test_corrupt_tenant_file_exits_2_with_one_line(capsys, tmp_path, content, needle):
    path = tmp_path / "tenant.json"
    path.write_text(content)
    code, _, err = run_cli(capsys, "demo", "--tenant", str(path), "--out", str(tmp_path / "out"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle.lower() in lines[0].lower() and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_inconsistent_tenant_file_names_object_and_field(capsys, tmp_path, tenant_file):
    def dangling(doc):
        doc["graph"]["appRoleAssignments"][0]["principalId"] = "00000000-dead-4000-8000-000000000000"

    code, _, err = run_cli(capsys, "demo", "--tenant", str(tenant_file(mutated(dangling))), "--out",
                           str(tmp_path / "out"))
    assert code == 2 and "appRoleAssignments[0]" in err and "principalId" in err
    assert len(err.strip().splitlines()) == 1


def test_demo_writes_snapshot_findings_and_csv(capsys, tmp_path: Path):
    code, out, _ = run_cli(capsys, "demo", "--out", str(tmp_path))
    assert code in (1, 3)
    for name in ("snapshot.json", "findings.json", "findings.csv"):
        assert (tmp_path / name).exists()
    assert "findings" in out
