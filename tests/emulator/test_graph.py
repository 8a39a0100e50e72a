"""Graph v1.0 over HTTPS with real requests: auth, roles, paging, $filter, $select, addressing, $batch."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.emulator.builtin import GRAPH_APP_ID
from auditor.emulator.server import EmulatorServer

from .conftest import (
    AUDITOR,
    CERTAPP,
    CONTACT_CENTER,
    EXCHANGE_SCOPE,
    GRAPH_SCOPE,
    GROUP_ID,
    NESTED_ID,
    NOROLE,
    USER_IDS,
    CASession,
    ClientCert,
    msal_app,
    sp_id,
    token_for,
)


def get(server: EmulatorServer, session: CASession, path: str, headers: dict[str, str], **kw: Any) -> Any:
    return session.get(f"{server.graph_endpoint}/v1.0{path}", headers=headers, **kw)


def collect(server: EmulatorServer, session: CASession, path: str, headers: dict[str, str]) -> tuple[list[Any], int]:
    response = get(server, session, path, headers)
    items, pages = [], 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["value"])
        pages += 1
        if "@odata.nextLink" not in body:
            return items, pages
        response = session.get(body["@odata.nextLink"], headers=headers)


def assert_graph_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    return error


def test_no_or_bad_token_is_401(server: EmulatorServer, session: CASession) -> None:
    response = get(server, session, "/applications", {})
    assert_graph_error(response, 401, "InvalidAuthenticationToken")
    assert "WWW-Authenticate" in response.headers
    assert_graph_error(
        get(server, session, "/applications", {"Authorization": "Bearer abc"}), 401, "InvalidAuthenticationToken"
    )


def test_exchange_token_is_wrong_audience_for_graph(server: EmulatorServer, session: CASession) -> None:
    exo = token_for(server, session, AUDITOR, EXCHANGE_SCOPE)
    error = assert_graph_error(
        get(server, session, "/applications", {"Authorization": f"Bearer {exo}"}), 401, "InvalidAuthenticationToken"
    )
    assert "audience" in error["message"]


def test_missing_role_is_403(server: EmulatorServer, session: CASession, client_cert: ClientCert) -> None:
    norole = {"Authorization": f"Bearer {token_for(server, session, NOROLE)}"}
    for path in ("/applications", "/servicePrincipals", "/users", "/groups", "/oauth2PermissionGrants"):
        error = assert_graph_error(get(server, session, path, norole), 403, "Authorization_RequestDenied")
        assert error["message"] == "Insufficient privileges to complete the operation."
    # Application.Read.All alone reads apps but not users or groups.
    app = msal_app(server, session, CERTAPP, {"private_key": client_cert.key_pem, "thumbprint": client_cert.sha1})
    headers = {"Authorization": f"Bearer {app.acquire_token_for_client(scopes=[GRAPH_SCOPE])['access_token']}"}
    assert get(server, session, "/applications", headers).status_code == 200
    assert get(server, session, "/users", headers).status_code == 403
    assert get(server, session, f"/groups/{GROUP_ID}/members", headers).status_code == 403


def test_paging_with_top_returns_every_object_once(
    server: EmulatorServer, session: CASession, graph_headers: dict[str, str]
) -> None:
    items, pages = collect(server, session, "/servicePrincipals?$top=7&$select=id,appId", graph_headers)
    expected = [sp["id"] for sp in server.tenant.doc["graph"]["servicePrincipals"]]
    assert len(expected) == 31 and pages == 5
    assert [i["id"] for i in items] == expected
    assert all(set(i) == {"id", "appId"} for i in items)
    first = get(server, session, "/servicePrincipals?$top=7", graph_headers).json()
    link = first["@odata.nextLink"]
    assert link.startswith(f"{server.base_url}/v1.0/servicePrincipals?") and "$skiptoken=" in link
    # Default page size (100) holds the whole tenant.
    assert "@odata.nextLink" not in get(server, session, "/servicePrincipals", graph_headers).json()
    # Relationship collections page too.
    graph = server.tenant.service_principals_by_app_id[GRAPH_APP_ID]["id"]
    assigned, pages = collect(server, session, f"/servicePrincipals/{graph}/appRoleAssignedTo?$top=2", graph_headers)
    assert pages == 3 and {a["principalId"] for a in assigned} == {
        sp_id(AUDITOR),
        sp_id(CONTACT_CENTER),
        sp_id(CERTAPP),
    }


def test_bad_paging_options(server: EmulatorServer, session: CASession, graph_headers: dict[str, str]) -> None:
    for top in ("0", "1000", "x"):
        assert_graph_error(get(server, session, f"/users?$top={top}", graph_headers), 400, "Request_BadRequest")
    link = get(server, session, "/servicePrincipals?$top=3", graph_headers).json()["@odata.nextLink"]
    tampered = link.replace("$top=3", "$top=4")
    assert_graph_error(session.get(tampered, headers=graph_headers), 400, "Request_BadRequest")
    assert_graph_error(get(server, session, "/users?$expand=manager", graph_headers), 400, "Request_BadRequest")


def test_filter_eq_and_in(server: EmulatorServer, session: CASession, graph_headers: dict[str, str]) -> None:
    body = get(server, session, f"/servicePrincipals?$filter=appId eq '{CONTACT_CENTER.upper()}'", graph_headers).json()
    assert [sp["id"] for sp in body["value"]] == [sp_id(CONTACT_CENTER)]
    body = get(
        server, session, "/users?$filter=mail in ('SUPPORT@contoso.com', 'ceo@contoso.com', 'x@y')", graph_headers
    ).json()
    assert [u["id"] for u in body["value"]] == [USER_IDS["support"], USER_IDS["ceo"]]
    body = get(server, session, "/users?$filter=userPrincipalName eq 'Guest@Contoso.com'", graph_headers).json()
    assert [u["id"] for u in body["value"]] == [USER_IDS["guest"]]
    grants = get(
        server, session, f"/oauth2PermissionGrants?$filter=clientId eq '{sp_id(CONTACT_CENTER)}'", graph_headers
    ).json()["value"]
    assert [g["scope"] for g in grants] == ["User.Read"]
    escaped = get(server, session, "/applications?$filter=displayName eq 'O''Brien'", graph_headers).json()
    assert escaped["value"] == []
    params = {"$filter": "displayName in ('Contact Center','Auditor')", "$select": "displayName"}
    apps = get(server, session, "/applications", graph_headers, params=params).json()["value"]
    assert apps == [{"displayName": "Auditor"}, {"displayName": "Contact Center"}]


@pytest.mark.parametrize(
    "expr",
    [
        "startswith(displayName,'a')",
        "accountEnabled eq false",
        "mail eq 'a' or mail eq 'b'",
        "mail ne 'a'",
        "mail in (" + ",".join(f"'u{i}@x'" for i in range(16)) + ")",
    ],
)
def test_unsupported_filters(
    server: EmulatorServer, session: CASession, graph_headers: dict[str, str], expr: str
) -> None:
    assert_graph_error(
        get(server, session, "/users", graph_headers, params={"$filter": expr}), 400, "Request_UnsupportedQuery"
    )


def test_addressing_by_app_id_and_not_found(
    server: EmulatorServer, session: CASession, graph_headers: dict[str, str]
) -> None:
    sp = get(server, session, f"/servicePrincipals(appId='{GRAPH_APP_ID}')?$select=id,appRoles", graph_headers)
    assert sp.status_code == 200 and len(sp.json()["appRoles"]) > 30
    app = get(server, session, f"/applications(appId='{CONTACT_CENTER}')", graph_headers).json()
    assert app["id"] == "ec000000-0000-0000-0000-000000000001" and "owners" not in app
    roles = get(server, session, f"/servicePrincipals(appId='{CONTACT_CENTER}')/appRoleAssignments", graph_headers)
    assert {r["appRoleId"] for r in roles.json()["value"]} == {
        "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
        "b633e1c5-b582-4048-a93e-9f11b44c7e96",
    }
    error = assert_graph_error(
        get(server, session, "/applications/nope", graph_headers), 404, "Request_ResourceNotFound"
    )
    assert error["message"] == (
        "Resource 'nope' does not exist or one of its queried reference-property objects are not present."
    )
    assert_graph_error(
        get(server, session, "/servicePrincipals(appId='nope')/owners", graph_headers), 404, "Request_ResourceNotFound"
    )
    assert_graph_error(get(server, session, "/devices", graph_headers), 404, "Request_ResourceNotFound")


def test_select_and_hidden_properties(
    server: EmulatorServer, session: CASession, graph_headers: dict[str, str]
) -> None:
    user = get(server, session, "/users/SUPPORT@contoso.com", graph_headers).json()
    assert user["id"] == USER_IDS["support"] and "accountEnabled" not in user and "userType" not in user
    selected = get(server, session, f"/users/{USER_IDS['support']}?$select=id,accountEnabled,userType", graph_headers)
    assert {k: v for k, v in selected.json().items() if not k.startswith("@")} == {
        "id": USER_IDS["support"],
        "accountEnabled": False,
        "userType": "Member",
    }
    listed = get(server, session, "/users?$select=mail,accountEnabled", graph_headers).json()["value"]
    assert listed[4] == {"mail": "guest@contoso.com", "accountEnabled": True}
    apps = get(server, session, "/applications?$select=appId,keyCredentials,passwordCredentials", graph_headers)
    cc = next(a for a in apps.json()["value"] if a["appId"] == CONTACT_CENTER)
    assert cc["keyCredentials"][0]["key"] is None and cc["passwordCredentials"][0]["hint"] == "abc"
    single = get(server, session, f"/applications(appId='{CONTACT_CENTER}')?$select=keyCredentials", graph_headers)
    assert single.json()["keyCredentials"][0]["key"] == "QUJD"
    assert_graph_error(get(server, session, "/users?$select=id,shoeSize", graph_headers), 400, "Request_BadRequest")


def test_owners_members_are_polymorphic(
    server: EmulatorServer, session: CASession, graph_headers: dict[str, str]
) -> None:
    owners = get(
        server,
        session,
        "/applications/ec000000-0000-0000-0000-000000000001/owners?$select=id,userPrincipalName,appId",
        graph_headers,
    ).json()["value"]
    assert owners == [
        {"@odata.type": "#microsoft.graph.user", "id": USER_IDS["owner"], "userPrincipalName": "owner@contoso.com"},
        {"@odata.type": "#microsoft.graph.servicePrincipal", "id": sp_id(AUDITOR), "appId": AUDITOR},
    ]
    sp_owners = get(server, session, f"/servicePrincipals/{sp_id(CONTACT_CENTER)}/owners?$select=id", graph_headers)
    assert sp_owners.json()["value"] == [{"@odata.type": "#microsoft.graph.user", "id": USER_IDS["owner"]}]
    members = get(server, session, f"/groups/{GROUP_ID}/members?$select=id,mail", graph_headers).json()["value"]
    assert [(m["@odata.type"], m["id"]) for m in members] == [
        ("#microsoft.graph.user", USER_IDS["support"]),
        ("#microsoft.graph.group", NESTED_ID),
    ]
    transitive = get(server, session, f"/groups/{GROUP_ID}/transitiveMembers?$select=id", graph_headers).json()
    assert [m["id"] for m in transitive["value"]] == [USER_IDS["support"], NESTED_ID, USER_IDS["sales"]]
    group = get(server, session, f"/groups/{GROUP_ID}", graph_headers).json()
    assert group["mailEnabled"] and group["securityEnabled"] and group["mail"] == "cctr_sec_group@contoso.com"
    groups = get(server, session, "/groups?$filter=mail eq 'NESTED@contoso.com'&$select=id", graph_headers).json()
    assert groups["value"] == [{"id": NESTED_ID}]


def test_batch(server: EmulatorServer, session: CASession, graph_headers: dict[str, str]) -> None:
    requests_ = [
        {"id": "1", "method": "GET", "url": "/applications/ec000000-0000-0000-0000-000000000001/owners?$select=id"},
        {"id": "2", "method": "GET", "url": "/users?$filter=mail eq 'ceo@contoso.com'&$select=id,accountEnabled"},
        {"id": "3", "method": "GET", "url": "/applications/missing/owners"},
        {"id": "4", "method": "POST", "url": "/users"},
        {"id": "5", "method": "GET", "url": "servicePrincipals?$top=2&$select=id"},
    ]
    server.counters.reset()
    response = session.post(f"{server.base_url}/v1.0/$batch", json={"requests": requests_}, headers=graph_headers)
    assert response.status_code == 200
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert by_id["1"]["status"] == 200 and len(by_id["1"]["body"]["value"]) == 2
    assert by_id["2"]["body"]["value"] == [{"id": USER_IDS["ceo"], "accountEnabled": True}]
    assert by_id["3"]["status"] == 404 and by_id["3"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert by_id["4"]["status"] == 405
    next_link = by_id["5"]["body"]["@odata.nextLink"]
    assert session.get(next_link, headers=graph_headers).status_code == 200
    counts = server.counters.snapshot()
    assert counts["POST /v1.0/$batch"] == 1
    assert counts["batch:GET /v1.0/applications/{id}/owners"] == 2
    assert counts["batch:GET /v1.0/users"] == 1
    assert counts["batch:POST /v1.0/users"] == 1
    assert server.counters.total() == 2 and server.counters.total(include_batch_items=True) == 7


def test_batch_limits(server: EmulatorServer, session: CASession, graph_headers: dict[str, str]) -> None:
    url = f"{server.base_url}/v1.0/$batch"
    many = [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]
    assert_graph_error(session.post(url, json={"requests": many}, headers=graph_headers), 400, "BadRequest")
    dup = [{"id": "1", "method": "GET", "url": "/users"}] * 2
    assert_graph_error(session.post(url, json={"requests": dup}, headers=graph_headers), 400, "BadRequest")
    assert_graph_error(session.post(url, data=b"{", headers=graph_headers), 400, "BadRequest")
    assert_graph_error(session.post(url, json={"requests": []}), 401, "InvalidAuthenticationToken")


def test_batch_items_are_checked_for_roles(server: EmulatorServer, session: CASession, client_cert: ClientCert) -> None:
    app = msal_app(server, session, CERTAPP, {"private_key": client_cert.key_pem, "thumbprint": client_cert.sha1})
    headers = {"Authorization": f"Bearer {app.acquire_token_for_client(scopes=[GRAPH_SCOPE])['access_token']}"}
    body = {
        "requests": [
            {"id": "a", "method": "GET", "url": "/users"},
            {"id": "b", "method": "GET", "url": "/applications"},
        ]
    }
    responses = session.post(f"{server.base_url}/v1.0/$batch", json=body, headers=headers).json()["responses"]
    assert [r["status"] for r in responses] == [403, 200]
    assert responses[0]["body"]["error"]["code"] == "Authorization_RequestDenied"
