"""Issue 12: Graph answers by Microsoft's permission tables, and the README's permission set audits cleanly.

The emulator's table (auditor/emulator/graph_permissions.py) is the strict service; the collector's hints and the
README must agree with it. Tokens with chosen roles come straight from the emulator's issuer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from auditor.collect.exchange_reader import read_exchange
from auditor.collect.http import NEEDED_PERMISSION, GraphClient, GraphRequestError, VerifyingSession
from auditor.collect.run import collect
from auditor.demo import DEMO_BASELINE
from auditor.emulator.builtin import EXCHANGE_AUDIENCE, GRAPH_AUDIENCE
from auditor.emulator.graph_permissions import BY_ROUTE, SCOPED_TO_OWNED, TABLE
from auditor.engine import evaluate
from auditor.models.baseline import load_baseline
from auditor.models.findings import Status
from auditor.models.snapshot import SectionStatus
from tests.collect_graph.conftest import emulated, mutated
from tests.make_demo_tenant import AUDITOR, CONTACT_CENTER, TICKETING, oid

README = Path(__file__).resolve().parents[2] / "README.md"
OLD_README_SET = ("Application.Read.All", "GroupMember.Read.All", "User.Read.All")


def readme_permissions() -> set[str]:
    """The permissions the README's "Auditing a real tenant" step 1 tells a user to grant."""
    text = README.read_text(encoding="utf-8")
    step = text[text.index("## Auditing a real tenant"):]
    step = step[:step.index("\n2. ")]
    named = set(re.findall(r"`([A-Z][A-Za-z]+(?:\.[A-Za-z]+)+)`", step))
    return named - {"Application.Read.All"}  # named as not enough


def with_auditor_roles(*roles: str):
    """The demo tenant, its auditor's Graph roles replaced (Exchange.ManageAsApp kept)."""
    def change(doc: dict[str, Any]) -> None:
        auditor_sp = oid("sp", AUDITOR)
        kept = [a for a in doc["graph"]["appRoleAssignments"]
                if a["principalId"] != auditor_sp or a["appRoleId"] == "Exchange.ManageAsApp"]
        kept += [{"id": oid("assignment", AUDITOR, "test", r), "principalId": auditor_sp,
                  "principalType": "ServicePrincipal", "resourceId": "00000003-0000-0000-c000-000000000000",
                  "appRoleId": r, "createdDateTime": "now-1d"} for r in roles]
        doc["graph"]["appRoleAssignments"] = kept
    return mutated(change)


def test_readme_permission_set_is_the_demo_auditors_and_audits_without_error(tenant_file):
    wanted = readme_permissions()
    assert wanted == {"Directory.Read.All", "Exchange.ManageAsApp"}
    with emulated() as (server, base, settings):
        tenant = server.tenant
        assert tenant.roles_for(AUDITOR, GRAPH_AUDIENCE) | tenant.roles_for(AUDITOR, EXCHANGE_AUDIENCE) == wanted
        snapshot = collect(base, settings, read_exchange)
    for name, section in snapshot.sections.items():
        if name.startswith("graph."):
            assert section.status is SectionStatus.OK and not section.item_errors, (name, section.error)
    findings = evaluate(snapshot, load_baseline(DEMO_BASELINE)).findings
    assert [f for f in findings if f.status is Status.ERROR] == []


def test_the_old_readme_set_cannot_list_delegated_grants_and_the_error_names_directory_read_all(tenant_file):
    with emulated(tenant_file(with_auditor_roles(*OLD_README_SET))) as (_, base, settings):
        snapshot = collect(base, settings)
    grants = snapshot.sections["graph.oauth2PermissionGrants"]
    assert grants.item_errors and all("HTTP 403 Authorization_RequestDenied" in e and "Directory.Read.All" in e
                                      for e in grants.item_errors.values())
    assert snapshot.sections["graph.users"].status is SectionStatus.OK  # User.Read.All still reads users
    findings = evaluate(snapshot, load_baseline(DEMO_BASELINE)).findings
    perm4 = [f for f in findings if f.check_id == "PERM-004" and f.status is Status.ERROR]
    assert perm4 and all("Directory.Read.All" in f.message for f in perm4)


def _path(server: Any, route: str) -> str:
    """A real path for a route template on the demo tenant."""
    ids = {"/servicePrincipals": oid("sp", CONTACT_CENTER), "/applications": oid("app", CONTACT_CENTER),
           "/users": oid("user", "owner@contoso.com"), "/groups": next(iter(server.tenant.groups_by_id))}
    head = "/" + route.strip("/").split("/")[0].split("{")[0]
    if "{" not in route:
        return route
    return route.replace("{KEY}", f"/{ids[head]}").replace("{id}", ids[head])


def _graph_client(server: Any, roles: set[str]) -> tuple[GraphClient, VerifyingSession]:
    session = VerifyingSession(server.ca_path)
    client = GraphClient(session, server.base_url,
                         lambda: server.tokens.issue(AUDITOR, GRAPH_AUDIENCE, roles, server.tenant.id))
    return client, session


def test_every_route_answers_403_in_graphs_shape_without_a_permission_from_its_table():
    everything = set().union(*(row.sufficient for row in TABLE))
    with emulated() as (server, _, _settings):
        for row in TABLE:
            path = _path(server, row.route)
            client, session = _graph_client(server, everything - row.sufficient)
            token = client.token()
            denied = session.get(f"{server.base_url}/v1.0{path}", headers={"Authorization": f"Bearer {token}"})
            assert denied.status_code == 403, row.route
            error = denied.json()["error"]
            assert error["code"] == "Authorization_RequestDenied"
            assert error["message"] == "Insufficient privileges to complete the operation."
            assert {"date", "request-id", "client-request-id"} <= set(error["innerError"])
            for permission in sorted(set(row.least + row.higher) - SCOPED_TO_OWNED):
                allowed, _ = _graph_client(server, {permission})
                assert allowed.get(path, f"GET {row.route}")["@odata.context"], (row.route, permission)


def _emulator_route(label: str) -> str:
    path = label.split(" ", 1)[1]
    return re.sub(r"^/(servicePrincipals|applications)(?:/\{id\}|\(appId=\.\.\.\))", r"/\1{KEY}", path)


@pytest.mark.parametrize("label", sorted(NEEDED_PERMISSION))
def test_each_403_hint_names_the_least_permission_of_that_endpoints_table(label):
    row = BY_ROUTE[_emulator_route(label)]
    assert NEEDED_PERMISSION[label] == row.least[0]
    with emulated() as (server, _, _settings):
        client, _ = _graph_client(server, {"Mail.Read"})
        path = _path(server, row.route)
        if "(appId=" in label:
            path = path.replace(f"/{oid('sp', CONTACT_CENTER)}", f"(appId='{CONTACT_CENTER}')")
        with pytest.raises(GraphRequestError) as exc:
            client.get(path, label)
    assert exc.value.status == 403
    assert f"needs the Graph application permission {row.least[0]} for this read" in str(exc.value)


def test_owners_without_user_read_come_back_limited_and_own001_is_an_error_naming_user_read_all(tenant_file):
    with emulated(tenant_file(with_auditor_roles("Application.Read.All"))) as (server, base, settings):
        client, _ = _graph_client(server, {"Application.Read.All"})
        owners = client.get(f"/applications/{oid('app', TICKETING)}/owners?$select=id,userPrincipalName,mail,"
                            "accountEnabled,userType,appId")["value"]
        snapshot = collect(base, settings)
    users = [o for o in owners if o["@odata.type"] == "#microsoft.graph.user"]
    assert len(users) == 2 and all(o["id"] and o["userPrincipalName"] is None and o["accountEnabled"] is None
                                   and o["mail"] is None and o["userType"] is None for o in users)
    sps = [o for o in owners if o["@odata.type"] == "#microsoft.graph.servicePrincipal"]
    assert len(sps) == 1 and sps[0]["appId"]  # Application.Read.All reads service principals in full
    findings = evaluate(snapshot, load_baseline(DEMO_BASELINE)).findings
    own = {f.integration: f for f in findings if f.check_id == "OWN-001"}
    for name in ("Contact Center", "Ticketing"):
        assert own[name].status is Status.ERROR
        assert "limited information" in own[name].message and "User.Read.All" in own[name].message


def test_every_row_of_the_emulators_table_is_cited_in_the_microsoft_facts():
    facts = (Path(__file__).resolve().parents[2] / "docs" / "microsoft-facts.md").read_text(encoding="utf-8")
    graph = facts[facts.index("## Microsoft Graph"):]
    for row in TABLE:
        assert row.page in graph, row.route
        assert all(f"`{p}`" in graph for p in row.least if row.route in ("/oauth2PermissionGrants", "/users"))
