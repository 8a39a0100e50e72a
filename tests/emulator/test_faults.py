"""Fault plans, request counters, and the server's behaviour under injected faults."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import requests

from auditor.emulator.faults import FaultPlan, RequestCounters
from auditor.emulator.server import EmulatorServer
from auditor.errors import ConfigError

from .conftest import AUDITOR, GRAPH_SCOPE, SECRETS, CASession, msal_app, start_faulty, token_for


def test_parse_full_spec() -> None:
    plan = FaultPlan.parse(
        "seed=7,latency_ms=20,throttle_every=5,error_rate=0.05,drop_every=50,psrp_fail=Test-ApplicationAccessPolicy,"
        "psrp_fail=Get-Mailbox+Get-Recipient,graph_down=1,exchange_down=true,token_error=7000222,retry_after_s=2"
    )
    assert plan == FaultPlan(
        seed=7,
        latency_ms=20,
        throttle_every=5,
        retry_after_s=2,
        error_rate=0.05,
        drop_every=50,
        psrp_fail=frozenset({"Test-ApplicationAccessPolicy", "Get-Mailbox", "Get-Recipient"}),
        graph_down=True,
        exchange_down=True,
        token_error=7000222,
    )
    assert FaultPlan.parse("") == FaultPlan()
    assert FaultPlan.parse(" graph_down=0 , ") == FaultPlan()


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ("throttle=5", "throttle"),
        ("throttle_every=five", "throttle_every"),
        ("error_rate=1.5", "error_rate"),
        ("latency_ms=-1", "latency_ms"),
        ("graph_down=maybe", "graph_down"),
        ("seed", "seed"),
        ("token_error=", "token_error"),
    ],
)
def test_parse_errors_name_the_key(spec: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        FaultPlan.parse(spec)
    assert f"'{key}'" in str(info.value) and "\n" not in str(info.value)


def test_counters_are_thread_safe() -> None:
    counters = RequestCounters()

    def work() -> None:
        for _ in range(1000):
            counters.count("GET /v1.0/users")
            counters.count("batch:GET /v1.0/users")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counters.snapshot() == {"GET /v1.0/users": 8000, "batch:GET /v1.0/users": 8000}
    assert counters.total() == 8000 and counters.total(include_batch_items=True) == 16000
    counters.reset()
    assert counters.snapshot() == {} and counters.total() == 0


Faulty = Callable[[str], tuple[EmulatorServer, CASession, dict[str, str]]]


@pytest.fixture
def faulty(tenant_doc: dict[str, Any]) -> Iterator[Faulty]:
    started: list[tuple[EmulatorServer, CASession]] = []

    def make(spec: str) -> tuple[EmulatorServer, CASession, dict[str, str]]:
        server = start_faulty(tenant_doc, spec)
        session = CASession(server.ca_path)
        started.append((server, session))
        headers = {} if "token_error" in spec else {"Authorization": f"Bearer {token_for(server, session)}"}
        return server, session, headers

    yield make
    for server, session in started:
        session.close()
        server.stop()


def _statuses(server: EmulatorServer, session: CASession, headers: dict[str, str], n: int) -> list[int]:
    return [session.get(f"{server.base_url}/v1.0/users", headers=headers).status_code for _ in range(n)]


def test_throttle_every_nth_graph_request(faulty: Faulty) -> None:
    server, session, headers = faulty("throttle_every=3")
    responses = [session.get(f"{server.base_url}/v1.0/users", headers=headers) for _ in range(6)]
    assert [r.status_code for r in responses] == [200, 200, 429, 200, 200, 429]
    throttled = responses[2]
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert throttled.json()["error"]["message"] == "Please retry again later."
    # Token and discovery requests are never throttled and do not advance the sequence.
    for _ in range(3):
        token_for(server, session)
    assert _statuses(server, session, headers, 3) == [200, 200, 429]


def test_throttled_batch_items(faulty: Faulty) -> None:
    server, session, headers = faulty("throttle_every=2,retry_after_s=3")
    body = {"requests": [{"id": str(i), "method": "GET", "url": "/users?$select=id"} for i in range(4)]}
    response = session.post(f"{server.base_url}/v1.0/$batch", json=body, headers=headers)
    assert response.status_code == 200  # the batch itself is request 1
    items = response.json()["responses"]
    assert [i["status"] for i in items] == [429, 200, 429, 200]
    assert items[0]["headers"]["Retry-After"] == "3"
    assert items[0]["body"]["error"]["code"] == "TooManyRequests"


def test_error_rate_is_seeded(faulty: Faulty) -> None:
    server, session, headers = faulty("error_rate=1")
    response = session.get(f"{server.base_url}/v1.0/applications", headers=headers)
    assert response.status_code == 503 and "error" in response.json()
    first = _statuses(*faulty("seed=3,error_rate=0.5"), 20)
    second = _statuses(*faulty("seed=3,error_rate=0.5"), 20)
    assert first == second and {200, 503} == set(first)


def test_drop_every_closes_the_connection(faulty: Faulty) -> None:
    server, session, headers = faulty("drop_every=2")
    assert session.get(f"{server.base_url}/v1.0/users", headers=headers).status_code == 200
    with pytest.raises(requests.ConnectionError):
        session.get(f"{server.base_url}/v1.0/users", headers=headers)
    assert session.get(f"{server.base_url}/v1.0/users", headers=headers).status_code == 200


def test_latency_applies_to_every_route(faulty: Faulty) -> None:
    server, session, headers = faulty("latency_ms=120")
    server.wsman_handler = lambda path, hdrs, body: (200, {}, b"")
    for method, path, kwargs in (
        ("GET", "/v1.0/users", {"headers": headers}),
        ("POST", "/wsman", {"data": b"<x/>"}),
        ("GET", f"/{server.tenant.id}/v2.0/.well-known/openid-configuration", {}),
    ):
        start = time.perf_counter()
        session.request(method, f"{server.base_url}{path}", **kwargs)
        assert time.perf_counter() - start >= 0.12


def test_graph_down_leaves_tokens_working(faulty: Faulty) -> None:
    server, session, headers = faulty("graph_down=1")
    assert session.get(f"{server.base_url}/v1.0/users", headers=headers).status_code == 503
    assert session.post(f"{server.base_url}/v1.0/$batch", json={"requests": []}, headers=headers).status_code == 503


def test_token_error_fault(faulty: Faulty) -> None:
    server, session, _ = faulty("token_error=7000222")
    result = msal_app(server, session, AUDITOR, SECRETS[AUDITOR]).acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert result["error"] == "invalid_client" and result["error_codes"] == [7000222]
    assert result["error_description"].startswith("AADSTS7000222: The provided client secret keys")


def test_wsman_seam_and_exchange_down(faulty: Faulty) -> None:
    server, session, _ = faulty("throttle_every=1")
    url = f"{server.base_url}/wsman"
    assert session.post(url, data=b"x").status_code == 404  # no handler yet
    seen: list[tuple[str, Mapping[str, str], bytes]] = []

    def handler(path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        seen.append((path, headers, body))
        return 200, {"Content-Type": "application/soap+xml;charset=UTF-8"}, b"<s:Envelope/>"

    server.wsman_handler = handler
    response = session.post(url + "?PSVersion=5.1", data=b"<req/>", headers={"X-Test": "yes"})
    # Graph throttling does not reach /wsman.
    assert response.status_code == 200 and response.content == b"<s:Envelope/>"
    assert response.headers["Content-Length"] == "13"
    path, headers, body = seen[0]
    assert path == "/wsman" and body == b"<req/>" and headers["x-test"] == "yes"
    assert session.get(url).status_code == 405

    def broken(path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        raise RuntimeError("boom")

    server.wsman_handler = broken
    failed = session.post(url, data=b"x")
    assert failed.status_code == 500 and failed.json()["error"]["code"] == "InternalServerError"
    server.rest_handler = handler
    rest = session.post(f"{server.base_url}/adminapi/beta/{server.tenant.id}/InvokeCommand", data=b"{}")
    assert rest.status_code == 200
    counts = server.counters.snapshot()
    assert counts["POST /wsman"] == 3 and counts["GET /wsman"] == 1
    assert counts["POST /adminapi/{path}"] == 1
    down, down_session, _ = faulty("exchange_down=1")
    down.wsman_handler = handler
    assert down_session.post(f"{down.base_url}/wsman", data=b"x").status_code == 503


def test_server_survives_concurrent_clients(faulty: Faulty) -> None:
    server, _, headers = faulty("seed=1")
    errors: list[BaseException] = []

    def client() -> None:
        try:
            with CASession(server.ca_path) as sess:
                for _ in range(10):
                    assert sess.get(f"{server.base_url}/v1.0/groups", headers=headers).status_code == 200
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert server.counters.snapshot()["GET /v1.0/groups"] == 80
