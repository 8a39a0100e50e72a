"""Hostile or broken peers cost an ERROR, never the run, and never a run without end (issue 18, items 1 and 5).

Each peer is a raw socket on 127.0.0.1 (tests/hostile.py) or the emulator with one handler swapped. Whole runs
go through the CLI in a subprocess with a hard timeout, so a run that would never end fails the test instead
of hanging it. The upper bounds measured are the configured time plus a generous margin.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.collect.bounds import MAX_RESPONSE_BYTES, RunClock, bound_session
from auditor.collect.exchange_reader import read_exchange
from auditor.collect.graph import GraphCollector
from auditor.collect.http import GraphClient, GraphRequestError, RetryPolicy, VerifyingSession
from auditor.collect.psrp import PsrpSettings, PsrpShellPool
from auditor.collect.rest import RestClient, RestSettings
from auditor.collect.run import collect
from auditor.collect.shell import Command, ShellStats
from auditor.demo import DEMO_BASELINE, DEMO_TENANT, emulator_baseline, emulator_settings, running_emulator
from auditor.emulator.ca import CertPaths, generate_certificates
from auditor.errors import CollectionError
from auditor.models.baseline import SweepConfig, load_baseline
from auditor.models.snapshot import SectionStatus
from tests.hostile import elapsed, hostile, http

from .conftest import FIGURES

MARGIN_S = 10.0  # on top of the configured bound: a loaded 2-core machine
CLI = [sys.executable, "-c", "from auditor.cli import main; main()"]
NO_RETRY = RetryPolicy(max_attempts=1, max_total_wait_s=1.0, base_backoff_s=0.01)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    return generate_certificates(tmp_path_factory.mktemp("hostile-certs"))


def _baseline(tmp_path: Path, url: str, certs: CertPaths, timeout_s: float, deadline_s: float) -> Path:
    path = tmp_path / "hostile.toml"
    path.write_text(f"""[tenant]
id = "11111111-1111-1111-1111-111111111111"
domain = "contoso.onmicrosoft.com"
[auth]
client_id = "22222222-2222-2222-2222-222222222222"
authority = "{url}"
graph_endpoint = "{url}"
ca_bundle = "{certs.ca_path}"
timeout_s = {timeout_s}
run_deadline_s = {deadline_s}
[exchange]
transport = "none"
""", encoding="utf-8")
    return path


def _audit(tmp_path: Path, baseline: Path, bound_s: float) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        done = subprocess.run([*CLI, "audit", "--baseline", str(baseline), "--no-history", "--out",
                               str(tmp_path / "out")], capture_output=True, text=True, timeout=bound_s + MARGIN_S,
                              env={**os.environ, "AUDITOR_CLIENT_SECRET": "hostile-test-secret-0123456789"})
    except subprocess.TimeoutExpired:
        pytest.fail(f"the run did not end within {bound_s + MARGIN_S:.0f} s")
    return done.returncode, done.stderr, elapsed(started)


def _tally(ok: bool) -> None:
    FIGURES["hostile_cases"] += 1
    FIGURES["hostile_held"] += ok


# -- whole runs against a hostile authority ----------------------------------------------------------------------


def test_an_authority_that_accepts_and_never_answers_ends_the_run_within_the_timeout(
        tmp_path: Path, certs: CertPaths) -> None:
    with hostile("silent", certs) as peer:
        code, err, seconds = _audit(tmp_path, _baseline(tmp_path, peer.url, certs, 2, 60), 2)
    _tally(code == 3)
    assert code == 3, err
    assert seconds < 2 + MARGIN_S
    assert "sign-in failed" in err and "Traceback" not in err
    assert "within 2 s" in err or "timed out" in err  # the whole-answer bound or the read's, whichever fires first


def test_an_authority_that_drips_a_byte_every_two_seconds_ends_at_the_run_deadline(
        tmp_path: Path, certs: CertPaths) -> None:
    with hostile("drip", certs, drip_s=2.0) as peer:
        code, err, seconds = _audit(tmp_path, _baseline(tmp_path, peer.url, certs, 60, 6), 6)
    _tally(code == 3)
    assert code == 3, err
    assert 5 < seconds < 6 + MARGIN_S
    assert "the run's deadline of 6 s ([auth] run_deadline_s) was reached" in err
    assert "Traceback" not in err
    report = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    assert "deadline" in json.dumps(report["run"]["collection"])  # the report says the run was cut short
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Run stopped early" in page and "the run&#39;s deadline of 6 s" in page


def test_an_authority_answering_discovery_with_500_is_one_line_and_exit_3(tmp_path: Path, certs: CertPaths) -> None:
    with hostile("answer", certs, lambda *_: http(500, '{"error": "server_error"}')) as peer:
        code, err, _ = _audit(tmp_path, _baseline(tmp_path, peer.url, certs, 5, 60), 5)
    _tally(code == 3)
    assert code == 3, err
    assert "refused the discovery request" in err and "HTTP Error: 500" in err
    assert "Traceback" not in err and "internal error" not in err


def test_a_portfolio_with_hung_tenants_ends_by_each_tenants_deadline_and_writes_its_summary(
        tmp_path: Path, certs: CertPaths) -> None:
    with hostile("drip", certs, drip_s=2.0) as drip, hostile("silent", certs) as silent:
        slow = _baseline(tmp_path, drip.url, certs, 60, 6).rename(tmp_path / "slow.toml")
        dead = _baseline(tmp_path, silent.url, certs, 2, 60).rename(tmp_path / "dead.toml")
        (tmp_path / "portfolio.toml").write_text(
            f'[[tenant]]\nname = "Slow"\nbaseline = "{slow.name}"\n\n'
            f'[[tenant]]\nname = "Dead"\nbaseline = "{dead.name}"\n', encoding="utf-8")
        started = time.monotonic()
        try:
            done = subprocess.run([*CLI, "audit", "--portfolio", str(tmp_path / "portfolio.toml"), "--no-history",
                                   "--out", str(tmp_path / "out"), "--quiet"], capture_output=True, text=True,
                                  timeout=6 + MARGIN_S, env={**os.environ, "AUDITOR_CLIENT_SECRET": "x" * 24})
        except subprocess.TimeoutExpired:
            pytest.fail("the portfolio did not end")
        seconds = elapsed(started)
    _tally(done.returncode == 3 and (tmp_path / "out" / "portfolio.html").exists())
    assert done.returncode == 3, done.stderr
    assert seconds < 6 + MARGIN_S
    assert (tmp_path / "out" / "portfolio.html").exists()
    assert "Traceback" not in done.stderr


# -- Graph paging, sizes and shapes --------------------------------------------------------------------------


def _client(url: str, clock: RunClock | None = None) -> GraphClient:
    session = bound_session(VerifyingSession(), clock or RunClock(60), 10)
    return GraphClient(session, url, lambda: "hostile-bearer-token", 10, NO_RETRY, clock=clock or RunClock(60))


def test_a_next_link_that_loops_is_an_error_not_a_run_without_end() -> None:
    served = {"n": 0}

    def loop(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        served["n"] += 1
        link = None if served["n"] > 200 else "http://127.0.0.1:{port}/v1.0/users?$skiptoken=same"
        return http(200, json.dumps({"value": [{"id": "u"}], "@odata.nextLink": link and link.format(port=port)}))

    with hostile("answer", answer=loop) as peer:
        port = peer.port
        with pytest.raises(GraphRequestError, match="does not progress after 1 pages"):
            _client(peer.url).get_all("/users")
    _tally(served["n"] == 2)
    assert served["n"] == 2  # the first page and the one it points to; never the same page again


def test_a_next_link_to_another_origin_never_receives_the_token() -> None:
    with hostile("answer", answer=lambda *_: http(200, '{"value": []}')) as elsewhere:
        page = json.dumps({"value": [{"id": "a"}], "@odata.nextLink": f"{elsewhere.url}/v1.0/users?$skiptoken=x"})
        with hostile("answer", answer=lambda *_: http(200, page)) as graph, \
                pytest.raises(GraphRequestError, match=r"refusing to follow @odata\.nextLink to http://127\.0\.0\.1:"):
            _client(graph.url).get_all("/users")
        _tally(elsewhere.requests == [])
        assert elsewhere.requests == []  # not one request, so no bearer token
        assert graph.requests[0].headers["authorization"] == "Bearer hostile-bearer-token"


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "streamed"])
def test_an_answer_over_the_size_cap_is_an_error_within_the_cap(announced: bool) -> None:
    size = MAX_RESPONSE_BYTES + 1024 * 1024
    body = b'{"value": [' + b" " * (size - 13) + b"]}"
    with hostile("answer", answer=lambda *_: http(200, body, length=announced)) as peer, \
            pytest.raises(GraphRequestError, match="64 MiB cap per answer"):
        _client(peer.url).get("/users")
    _tally(True)


@pytest.mark.parametrize(("body", "expected"), [
    ("[" * 100_000 + "]" * 100_000, "not a JSON object"),
    ('{"value": {"id": "x"}}', "value is not a list of objects"),
    ('{"value": ["x"]}', "value is not a list of objects"),
], ids=["nested-json", "value-object", "value-strings"])
def test_malformed_graph_listings_are_errors(body: str, expected: str) -> None:
    with hostile("answer", answer=lambda *_: http(200, body)) as peer, pytest.raises(GraphRequestError, match=expected):
        _client(peer.url).get_all("/users")
    _tally(True)


def test_an_exchange_rest_answer_nested_past_the_stack_is_an_error_not_a_crash() -> None:
    nested = "[" * 100_000 + "]" * 100_000
    with hostile("answer", answer=lambda *_: http(200, nested)) as peer:
        client = RestClient(RestSettings(endpoint=f"{peer.url}/adminapi/beta", tenant_id="t", verify=False,
                                         max_attempts=1), lambda: "token")
        with pytest.raises(CollectionError, match="not an OData collection"):
            client.invoke(Command("Get-Mailbox"), ShellStats())
    _tally(True)


@pytest.mark.parametrize("row", [{"id": "sp1", "appId": None}, {"appId": "a"}, {"id": "sp1", "appId": 7}],
                         ids=["null-appId", "no-id", "numeric-appId"])
def test_a_malformed_service_principal_is_a_section_error_naming_it(row: dict[str, object]) -> None:
    """A sweep lists every service principal; one without the documented `id`/`appId` makes the section
    ERROR (checks then say the evidence is missing), while the other sections are still read."""
    def graph(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        if path.startswith("/v1.0/servicePrincipals?"):
            return http(200, json.dumps({"value": [row]}))
        if path.startswith("/v1.0/$batch"):
            ids = [r["id"] for r in json.loads(body)["requests"]]
            return http(200, json.dumps({"responses": [{"id": i, "status": 200, "body": {"value": []}}
                                                       for i in ids]}))
        return http(200, '{"value": []}')

    base = load_baseline(DEMO_BASELINE)
    base = dataclasses.replace(base, sweep=SweepConfig(enabled=True))
    with hostile("answer", answer=graph) as peer:
        sections = GraphCollector(_client(peer.url), base).collect()
    sps = sections["graph.servicePrincipals"]
    _tally(sps.status is SectionStatus.ERROR)
    assert sps.status is SectionStatus.ERROR
    assert "graph.servicePrincipals is not in its documented shape" in (sps.error or "")
    assert sections["graph.users"].status is SectionStatus.OK


# -- the Exchange jump host ----------------------------------------------------------------------------------


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
                  + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
                  + ']><l>&j;</l>')
XXE = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'


@contextlib.contextmanager
def _emulated(deadline_s: float = 1800) -> Iterator[tuple[object, object]]:
    base = load_baseline(DEMO_BASELINE)
    with running_emulator(DEMO_TENANT) as server:
        aimed = emulator_baseline(base, server)
        aimed = dataclasses.replace(aimed, auth=dataclasses.replace(aimed.auth, run_deadline_s=deadline_s))
        yield server, aimed


@pytest.mark.parametrize("body", ["OK", "<html><body><h1>It works</h1></body></html>", BILLION_LAUGHS, XXE],
                         ids=["ok", "html", "billion-laughs", "xxe"])
def test_a_jump_host_answering_non_wsman_costs_the_exchange_sections_not_the_graph_evidence(body: str) -> None:
    with _emulated() as (server, aimed):
        server.wsman_handler = lambda path, headers, request: (200, {"Content-Type": "text/html"}, body.encode())
        snapshot = collect(aimed, emulator_settings(server), read_exchange)
    sections = snapshot.sections
    exchange = [s for name, s in sections.items() if name.startswith("exchange.")]
    held = sections["graph.servicePrincipals"].status is SectionStatus.OK and all(
        s.status is SectionStatus.ERROR for s in exchange)
    _tally(held)
    assert sections["graph.servicePrincipals"].status is SectionStatus.OK
    assert sections["graph.applications"].status is SectionStatus.OK
    assert all(s.status is SectionStatus.ERROR for s in exchange)
    error = sections["exchange.applicationAccessPolicies"].error or ""
    assert "127.0.0.1" in error  # names the jump host; well-formed HTML is a WinRMError, the rest not WSMan
    assert "is not a WSMan message" in error or "WinRMError" in error
    assert "root:" not in json.dumps(snapshot.to_json())  # no external entity was resolved


def test_a_jump_host_that_never_answers_ends_the_run_at_its_deadline() -> None:
    release = threading.Event()

    def hang(path: str, headers: object, request: bytes) -> tuple[int, dict[str, str], bytes]:
        release.wait(60)  # bounded: the test releases it at the end
        return 500, {}, b""

    try:
        with _emulated(deadline_s=6) as (server, aimed):
            server.wsman_handler = hang
            started = time.monotonic()
            snapshot = collect(aimed, emulator_settings(server), read_exchange)
            seconds = elapsed(started)
    finally:
        release.set()
    policies = snapshot.sections["exchange.applicationAccessPolicies"]
    _tally(seconds < 6 + MARGIN_S and policies.status is SectionStatus.ERROR)
    assert seconds < 6 + MARGIN_S
    assert policies.status is SectionStatus.ERROR and "deadline of 6 s" in (policies.error or "")
    assert snapshot.sections["graph.servicePrincipals"].status is SectionStatus.OK
    assert "deadline" in str(snapshot.collection.get("stopped"))


def test_a_jump_host_dripping_a_byte_every_two_seconds_ends_at_the_deadline() -> None:
    """The issue's case: `operation_timeout_s = 5` bounded each read only, and the run went on for 723 s."""
    settings = PsrpSettings(server="127.0.0.1", ssl=False, auth="basic", encryption="never", username="u", password="p",
                            connect="direct", operation_timeout_s=5, pools=1, clock=RunClock(6))
    with hostile("drip", drip_s=2.0) as peer:
        started = time.monotonic()
        with pytest.raises(CollectionError, match="deadline of 6 s"):
            PsrpShellPool.open(dataclasses.replace(settings, port=peer.port))
        seconds = elapsed(started)
    _tally(seconds < 6 + MARGIN_S)
    assert 5 < seconds < 6 + MARGIN_S
