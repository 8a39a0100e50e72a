"""Faults on the Exchange endpoint: failing cmdlets, dropped pools, unknown shells, round trips."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import PowerShell

from auditor.emulator.exchange import ExchangeService
from auditor.emulator.faults import FaultPlan
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import Tenant

from .helpers import APP_RESTRICTED, JUMP_PASSWORD, JUMP_USER, exchange_pool, run, running

Pair = tuple[EmulatorServer, ExchangeService]
SHELL_NOT_FOUND = 2150858843


@pytest.fixture(scope="module")
def faulty(tenant: Tenant) -> Iterator[Pair]:
    plan = FaultPlan(psrp_fail=frozenset({"get-mailbox"}))
    with running(tenant, "jump-host", plan, drop_pool_after=3) as pair:
        yield pair


def test_failing_cmdlet_is_terminating_and_others_work(faulty: Pair) -> None:
    server, _ = faulty
    with exchange_pool(server, "jump-host") as pool:  # pipeline 1: Connect-ExchangeOnline
        failed = run(pool, "Get-Mailbox", Identity="support")
        assert failed.state == 5 and failed.had_errors
        assert "The server is busy" in str(failed.streams.error[0])
        assert "ADTransientException" in failed.streams.error[0].fq_error
        fine = run(pool, "Test-ApplicationAccessPolicy", Identity="support", AppId=APP_RESTRICTED)
        assert fine.state == 4 and fine.output


def test_dropped_pool_answers_shell_not_found(faulty: Pair) -> None:
    server, _ = faulty
    with pytest.raises(WSManFaultError) as closing, exchange_pool(server, "jump-host") as pool:
        for _ in range(2):  # pipelines 2 and 3
            assert run(pool, "Get-Recipient", Identity="support").state == 4
        with pytest.raises(WSManFaultError) as dropped:
            run(pool, "Get-Recipient", Identity="support")
        assert dropped.value.code == SHELL_NOT_FOUND
        assert "shell was not found" in (dropped.value.reason or "")
        with pytest.raises(WSManFaultError):
            run(pool, "Get-Recipient", Identity="sales")  # still gone
    assert closing.value.code == SHELL_NOT_FOUND  # even the Delete of the pool
    with exchange_pool(server, "jump-host") as fresh:  # a new pool works again
        assert run(fresh, "Get-Recipient", Identity="support").output


def _envelope(action: str, shell_id: str, body: str) -> bytes:
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header>'
        f"<wsa:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/{action}</wsa:Action>"
        "<wsa:MessageID>uuid:11111111-2222-3333-4444-555555555555</wsa:MessageID>"
        "<wsman:ResourceURI>http://schemas.microsoft.com/powershell/Microsoft.PowerShell</wsman:ResourceURI>"
        f'<wsman:SelectorSet><wsman:Selector Name="ShellId">{shell_id}</wsman:Selector></wsman:SelectorSet>'
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def test_unknown_shell_and_bad_credentials_at_the_handler(faulty: Pair) -> None:
    _, service = faulty
    auth = "Basic " + base64.b64encode(f"{JUMP_USER}:{JUMP_PASSWORD}".encode()).decode()
    body = _envelope(
        "Receive",
        "DEADBEEF-0000-0000-0000-000000000000",
        "<rsp:Receive><rsp:DesiredStream>stdout</rsp:DesiredStream></rsp:Receive>",
    )
    status, headers, reply = service.handle_wsman("/wsman", {"Authorization": auth}, body)
    assert status == 500 and b'Code="2150858843"' in reply
    assert b"<a:RelatesTo>uuid:11111111-2222-3333-4444-555555555555</a:RelatesTo>" in reply
    status, headers, _ = service.handle_wsman("/wsman", {"Authorization": "Basic Zm9vOmJhcg=="}, body)
    assert (status, headers["WWW-Authenticate"]) == (401, 'Basic realm="WSMAN"')
    assert service.handle_wsman("/wsman", {"Authorization": auth}, b"<not xml")[0] == 400


def test_round_trips_per_pipeline(jump: Pair) -> None:
    server, _ = jump
    with exchange_pool(server, "jump-host") as pool:
        before = server.counters.snapshot()
        run(pool, "Test-ApplicationAccessPolicy", Identity="support", AppId=APP_RESTRICTED)
        middle = server.counters.snapshot()
        with PowerShell(pool) as ps:  # close() adds a Signal
            ps.add_cmdlet("Get-Recipient").add_parameter("Identity", "sales")
            ps.invoke()
        after = server.counters.snapshot()

    def wsman_delta(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
        return {k: b[k] - a.get(k, 0) for k in b if k.startswith("wsman:") and b[k] != a.get(k, 0)}

    assert wsman_delta(before, middle) == {"wsman:Command": 1, "wsman:Receive": 1}
    assert wsman_delta(middle, after) == {"wsman:Command": 1, "wsman:Receive": 1, "wsman:Signal": 1}
    assert middle["POST /wsman"] - before["POST /wsman"] == 2


def test_exchange_down_is_a_503_from_the_server(tenant: Tenant) -> None:
    from pypsrp.exceptions import WinRMTransportError

    with (
        running(tenant, "direct", FaultPlan(exchange_down=True)) as (server, _),
        pytest.raises(WinRMTransportError) as info,
        exchange_pool(server, "direct"),
    ):
        pass
    assert info.value.code == 503
