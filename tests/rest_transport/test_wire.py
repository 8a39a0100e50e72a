"""What goes over the wire: the module's request shape, read-only by construction, and the emulator's answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from auditor.collect.allowlist import NotAllowedError
from auditor.collect.shell import Command
from auditor.emulator.exchange.rest import RestService
from auditor.emulator.server import EmulatorServer
from auditor.errors import CollectionError
from tests.emulator_exchange.helpers import TENANT_ID, exchange_token

from .support import open_pool, rest_counts

Pair = tuple[EmulatorServer, RestService]
ANCHOR = f"APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{TENANT_ID}"


@pytest.fixture
def recorded(emulator: Pair) -> Iterator[list[tuple[str, dict[str, str], Any]]]:
    """Every request the REST handler receives: (path, headers, decoded body)."""
    server, service = emulator
    seen: list[tuple[str, dict[str, str], Any]] = []

    def record(path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        seen.append((path, {k.lower(): v for k, v in headers.items()}, json.loads(body)))
        return service.handle(path, headers, body)

    server.rest_handler = record
    try:
        yield seen
    finally:
        server.rest_handler = service.handle


def test_requests_carry_what_the_module_sends(emulator: Pair, recorded: list[Any]) -> None:
    server, _ = emulator
    pool = open_pool(server)
    try:
        pool.run([Command("Test-ApplicationAccessPolicy", {"Identity": "support@contoso.com", "AppId": "x"})])
    finally:
        pool.close()
    (probe_path, probe_headers, probe), (path, headers, body) = recorded
    assert path == probe_path == f"/adminapi/beta/{TENANT_ID}/InvokeCommand"
    assert body == {"CmdletInput": {"CmdletName": "Test-ApplicationAccessPolicy",
                                    "Parameters": {"Identity": "support@contoso.com", "AppId": "x"}}}
    assert probe == {"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": 1}}}
    assert headers["x-anchormailbox"] == probe_headers["x-anchormailbox"] == ANCHOR
    assert headers["prefer"] == "odata.maxpagesize=1000" and probe_headers["prefer"] == "odata.maxpagesize=1"
    scheme, _, token = headers["authorization"].partition(" ")
    claims = server.tokens.verify(token)
    assert scheme == "Bearer" and claims is not None and claims.audience == "https://outlook.office365.com"


def test_a_switch_travels_as_true_and_values_as_data(emulator: Pair, recorded: list[Any]) -> None:
    server, _ = emulator
    pool = open_pool(server)
    try:
        out = pool.run([Command("Get-Mailbox", {"Identity": "'; Remove-Mailbox x; '", "ResultSize": None})])
    finally:
        pool.close()
    assert recorded[-1][2]["CmdletInput"]["Parameters"] == {"Identity": "'; Remove-Mailbox x; '", "ResultSize": True}
    assert out.rows == [] and len(out.errors) == 1  # refused by the cmdlet as a value, never run as script


def test_allowlist_refuses_a_write_cmdlet_before_any_request(emulator: Pair) -> None:
    server, _ = emulator
    pool = open_pool(server)
    before = server.counters.snapshot()
    try:
        with pytest.raises(NotAllowedError):
            Command("Set-Mailbox", {"Identity": "support@contoso.com"})
        smuggled = Command("Get-Mailbox", {"Identity": "support@contoso.com"})
        object.__setattr__(smuggled, "name", "Set-Mailbox")  # past the Command check: the shell checks again
        with pytest.raises(NotAllowedError, match="refusing to send 'Set-Mailbox' to Exchange"):
            pool.run([Command("Get-Mailbox", {"Identity": "sales@contoso.com"}), smuggled])
        with pytest.raises(NotAllowedError):
            pool.shells[0].run([smuggled])
    finally:
        pool.close()
    assert server.counters.snapshot() == before  # not one byte sent, not even the batch's allowed first command


def test_connect_exchange_online_is_never_sent(emulator: Pair) -> None:
    server, _ = emulator
    pool = open_pool(server)
    before = server.counters.snapshot()
    try:
        with pytest.raises(CollectionError, match="REST transport has no session"):
            pool.run([Command("Connect-ExchangeOnline", {"AccessToken": "secret-token", "Organization": "x"})])
    finally:
        pool.close()
    assert server.counters.snapshot() == before


# -- the emulator's endpoint, asked directly -----------------------------------------------------------


def _post(server: EmulatorServer, body: Any, token: str | None = None, path: str | None = None,
          headers: dict[str, str] | None = None) -> requests.Response:
    url = server.base_url + (path or f"/adminapi/beta/{TENANT_ID}/InvokeCommand")
    sent = {"Authorization": f"Bearer {token or exchange_token(server)}", **(headers or {})}
    return requests.post(url, json=body, headers=sent, verify=server.ca_path, timeout=10)


def _cmdlet(name: str, **parameters: Any) -> dict[str, Any]:
    return {"CmdletInput": {"CmdletName": name, "Parameters": parameters}}


def test_not_found_answers_exchanges_error_shape(server: EmulatorServer) -> None:
    response = _post(server, _cmdlet("Get-Mailbox", Identity="nobody@contoso.com"))
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("NotFound", "Error executing cmdlet")
    exception_id, kind, message = error["details"][0]["message"].split("|")
    assert exception_id == "Ex6F9304"
    assert kind == "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
    assert message.startswith("The operation couldn't be performed because object 'nobody@contoso.com' couldn't")


def test_pages_follow_the_prefer_header_and_belong_to_their_request(server: EmulatorServer) -> None:
    body = _cmdlet("Get-Mailbox", ResultSize="Unlimited")
    first = _post(server, body, headers={"Prefer": "odata.maxpagesize=4"})
    doc = first.json()
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=4" and len(doc["value"]) == 4
    link = doc["@odata.nextLink"]
    assert link.startswith(f"{server.base_url}/adminapi/beta/{TENANT_ID}/InvokeCommand")
    second = requests.post(link, json=body, headers={"Authorization": f"Bearer {exchange_token(server)}",
                                                     "Prefer": "odata.maxpagesize=4"}, verify=server.ca_path,
                           timeout=10)
    assert [r["Name"] for r in second.json()["value"]] != [r["Name"] for r in doc["value"]]
    other = requests.post(link, json=_cmdlet("Get-Recipient", ResultSize="Unlimited"),
                          headers={"Authorization": f"Bearer {exchange_token(server)}"}, verify=server.ca_path,
                          timeout=10)
    assert other.status_code == 400 and "another request body" in other.json()["error"]["message"]


def test_refusals(server: EmulatorServer) -> None:
    before = rest_counts(server)
    assert _post(server, _cmdlet("Get-Mailbox"), token="not-a-token").status_code == 401
    assert _post(server, _cmdlet("Get-Mailbox"), path="/adminapi/beta/other-tenant/InvokeCommand").status_code == 401
    assert _post(server, {"Cmdlet": "Get-Mailbox"}).status_code == 400
    assert _post(server, _cmdlet("Get-Mailbox"), headers={"X-AnchorMailbox": "APP:x@other"}).status_code == 400
    got = requests.get(f"{server.base_url}/adminapi/beta/{TENANT_ID}/InvokeCommand", verify=server.ca_path,
                       timeout=10)
    assert got.status_code == 405
    after = rest_counts(server)
    assert after["rest:401"] - before.get("rest:401", 0) == 2
    assert after.get("rest:Get-Mailbox", 0) == before.get("rest:Get-Mailbox", 0)  # no cmdlet ran
