"""Jump-host and direct endpoints through the real pypsrp client: auth, Connect-ExchangeOnline, refusals."""

from __future__ import annotations

import pytest
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool

from auditor.emulator.exchange import ExchangeService
from auditor.emulator.server import EmulatorServer

from .helpers import AUDITOR_APP, DOMAIN, connect, exchange_pool, exchange_token, run, wsman

Pair = tuple[EmulatorServer, ExchangeService]
FAILED, COMPLETED = 5, 4


def _jump_pool(server: EmulatorServer) -> RunspacePool:
    return RunspacePool(wsman(server), configuration_name="Microsoft.PowerShell")


def test_jump_host_connects_then_serves_cmdlets(jump: Pair) -> None:
    server, _ = jump
    with _jump_pool(server) as pool:
        before = run(pool, "Get-Mailbox", Identity="support")
        assert before.state == FAILED and before.had_errors
        (error,) = before.streams.error
        assert str(error).startswith("The term 'Get-Mailbox' is not recognized as the name of a cmdlet")
        assert error.fq_error == "CommandNotFoundException"
        ps = connect(pool, exchange_token(server))
        assert ps.state == COMPLETED and not ps.streams.error and ps.output == []
        after = run(pool, "Get-Mailbox", Identity="support")
        assert after.state == COMPLETED and len(after.output) == 1
    counts = server.counters.snapshot()
    assert counts["psrp:Connect-ExchangeOnline"] >= 1 and counts["wsman:Create"] >= 1


def test_connection_is_per_pool(jump: Pair) -> None:
    server, _ = jump
    with exchange_pool(server, "jump-host"), _jump_pool(server) as other:
        assert run(other, "Get-Recipient").state == FAILED  # the second pool never connected


@pytest.mark.parametrize(
    ("token_args", "organization", "message"),
    [
        ({"audience": "https://graph.microsoft.com"}, DOMAIN, "The access token is invalid: wrong audience"),
        ({"roles": ()}, DOMAIN, f"The role assigned to application {AUDITOR_APP} isn't supported"),
        ({"roles": ("Exchange.Manage",)}, DOMAIN, "isn't supported in this scenario"),
        ({"tenant_id": "99999999-9999-4999-8999-999999999999"}, DOMAIN, "issued for tenant"),
        ({}, "fabrikam.onmicrosoft.com", "does not match the tenant"),
        (None, DOMAIN, "The access token is invalid or has expired"),
    ],
)
def test_connect_refusals_are_terminating(jump: Pair, token_args: dict | None, organization: str, message: str) -> None:
    server, _ = jump
    token = "eyJhbGciOiJIUzI1NiJ9.e30.forged" if token_args is None else exchange_token(server, **token_args)
    with _jump_pool(server) as pool:
        ps = connect(pool, token, organization)
        assert ps.state == FAILED and ps.had_errors
        assert message in str(ps.streams.error[0])
        assert run(pool, "Get-Mailbox").state == FAILED  # still not connected


def test_connect_requires_its_parameters(jump: Pair) -> None:
    server, _ = jump
    with _jump_pool(server) as pool:
        ps = run(pool, "Connect-ExchangeOnline", AccessToken=exchange_token(server))
        assert ps.state == FAILED and "missing mandatory parameters: Organization" in str(ps.streams.error[0])


def test_wrong_basic_password_is_refused(jump: Pair) -> None:
    server, _ = jump
    with pytest.raises(AuthenticationError), RunspacePool(wsman(server, password="wrong")) as pool:
        pool.open()


def test_unknown_configuration_is_a_wsman_fault(jump: Pair) -> None:
    server, _ = jump
    with pytest.raises(WSManFaultError) as info, RunspacePool(wsman(server), configuration_name="Microsoft.Exchange"):
        pass
    assert info.value.code == 2150858811


def test_direct_mode_needs_no_connect(direct: Pair) -> None:
    server, _ = direct
    with RunspacePool(wsman(server), configuration_name="Microsoft.Exchange") as pool:
        ps = run(pool, "Get-ServicePrincipal")
        assert ps.state == COMPLETED and len(ps.output) == 1
        refused = connect(pool, exchange_token(server))  # an Exchange endpoint has no Connect-ExchangeOnline
        assert refused.state == FAILED and refused.streams.error[0].fq_error == "CommandNotFoundException"


def test_scripts_and_unknown_cmdlets_are_refused(direct: Pair) -> None:
    server, _ = direct
    with exchange_pool(server, "direct") as pool:
        script = PowerShell(pool)
        script.add_script("Get-Mailbox | Remove-Mailbox")
        script.invoke()
        assert script.state == FAILED and script.had_errors
        (error,) = script.streams.error
        assert error.fq_error == "ScriptsNotAllowed"
        assert str(error) == (
            "The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode."
        )
        unknown = run(pool, "Remove-Mailbox", Identity="support")
        assert unknown.state == FAILED and unknown.streams.error[0].fq_error == "CommandNotFoundException"
        assert "'Remove-Mailbox' is not recognized" in str(unknown.streams.error[0])
        bad_parameter = run(pool, "Get-Mailbox", Filter="Name -like '*'")
        assert bad_parameter.state == FAILED
        assert bad_parameter.streams.error[0].fq_error == "NamedParameterNotFound,Get-Mailbox"
