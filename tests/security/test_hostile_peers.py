"""What a hostile server can get out of the auditor: never the bearer token, never a local file.

The peers are raw sockets on 127.0.0.1 (tests/hostile.py); the clients are the product's own. Each case counts
towards the suite's secret-leak figures.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from auditor.collect.bounds import RunClock, bound_session
from auditor.collect.exchange_reader import read_exchange
from auditor.collect.http import GraphClient, GraphRequestError, RetryPolicy, VerifyingSession
from auditor.collect.rest import RestClient, RestSettings
from auditor.collect.run import collect
from auditor.collect.shell import Command, ShellStats
from auditor.demo import DEMO_BASELINE, DEMO_TENANT, emulator_baseline, emulator_settings, running_emulator
from auditor.errors import CollectionError
from auditor.models.baseline import load_baseline
from tests.hostile import hostile, http

from .conftest import FIGURES, assert_no_leak

TOKEN = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJob3N0aWxlLXBlZXItdGVzdCJ9.c2lnbmF0dXJlLW9mLWEtdG9rZW4"


def _graph(url: str) -> GraphClient:
    session = bound_session(VerifyingSession(), RunClock(60), 10)
    return GraphClient(session, url, lambda: TOKEN, 10, RetryPolicy(max_attempts=1), clock=RunClock(60))


def _texts(requests: list[object]) -> dict[str, str]:
    return {"what the other origin received": repr(requests) or "[]"}


def _search(secrets: dict[str, str], texts: dict[str, str]) -> None:
    FIGURES["texts"] += len(texts)
    FIGURES["secrets"] += len(secrets)
    assert_no_leak(secrets, texts)


def test_a_graph_next_link_to_another_origin_gets_no_request_and_no_token() -> None:
    with hostile("answer", answer=lambda *_: http(200, '{"value": []}')) as elsewhere:
        page = json.dumps({"value": [{"id": "a"}], "@odata.nextLink": f"{elsewhere.url}/v1.0/users?$skiptoken=1"})
        with hostile("answer", answer=lambda *_: http(200, page)) as graph, \
                pytest.raises(GraphRequestError, match="outside"):
            _graph(graph.url).get_all("/users")
        assert elsewhere.requests == []
        _search({"bearer token": TOKEN}, _texts(elsewhere.requests))


def test_a_batch_items_next_link_to_another_origin_gets_no_request_and_no_token() -> None:
    """A $batch item's page names its next page too; GraphCollector follows it through the same pager."""
    with hostile("answer", answer=lambda *_: http(200, '{"value": []}')) as elsewhere:
        with hostile("answer", answer=lambda *_: http(200, '{"value": []}')) as graph, \
                pytest.raises(GraphRequestError, match="outside"):
            _graph(graph.url).get_all(f"{elsewhere.url}/v1.0/servicePrincipals?$skiptoken=1")
        assert elsewhere.requests == []
        _search({"bearer token": TOKEN}, _texts(elsewhere.requests))


def test_a_graph_redirect_to_another_origin_carries_no_token() -> None:
    with hostile("answer", answer=lambda *_: http(200, '{"value": []}')) as elsewhere:
        moved = (b"HTTP/1.1 302 Found\r\nLocation: " + f"{elsewhere.url}/v1.0/users".encode()
                 + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        with hostile("answer", answer=lambda *_: moved) as graph:
            _graph(graph.url).get_all("/users")
        assert "authorization" not in elsewhere.requests[0].headers  # requests drops it when the host changes
        _search({"bearer token": TOKEN}, {"headers": repr([r.headers for r in elsewhere.requests])})


def test_an_exchange_rest_next_link_to_another_origin_gets_no_request_and_no_token() -> None:
    with hostile("answer", answer=lambda *_: http(200, '{"value": []}')) as elsewhere:
        page = json.dumps({"value": [{"Name": "a"}], "@odata.nextLink": f"{elsewhere.url}/adminapi/beta/t/x"})
        with hostile("answer", answer=lambda *_: http(200, page)) as rest:
            client = RestClient(RestSettings(endpoint=f"{rest.url}/adminapi/beta", tenant_id="t", verify=False,
                                             max_attempts=1), lambda: TOKEN)
            with pytest.raises(CollectionError, match=r"refusing to follow @odata\.nextLink"):
                client.invoke(Command("Get-Mailbox"), ShellStats())
        assert elsewhere.requests == []
        _search({"bearer token": TOKEN}, _texts(elsewhere.requests))


def test_a_jump_host_cannot_read_a_local_file_through_an_external_entity(tmp_path: Path) -> None:
    marker = "local-file-content-the-jump-host-must-never-see-4711"
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(marker, encoding="utf-8")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY e SYSTEM "file://{secret_file}">]>'
           '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&e;</s:Body></s:Envelope>')
    base = load_baseline(DEMO_BASELINE)
    with running_emulator(DEMO_TENANT) as server:
        aimed = emulator_baseline(base, server)
        aimed = dataclasses.replace(aimed, auth=dataclasses.replace(aimed.auth, run_deadline_s=60))
        server.wsman_handler = lambda path, headers, body: (200, {"Content-Type": "application/soap+xml"},
                                                            xxe.encode())
        snapshot = collect(aimed, emulator_settings(server), read_exchange)
    policies = snapshot.sections["exchange.applicationAccessPolicies"]
    assert policies.error and "127.0.0.1" in policies.error
    _search({"local file": marker}, {"snapshot": json.dumps(snapshot.to_json())})
