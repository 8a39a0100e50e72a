"""A local pwsh that dies, hangs, writes garbage, exits at start, or lacks what the audit needs costs the affected
sections an ERROR with one line saying so, never the run; the Graph side and the other sections still read."""

from __future__ import annotations

import time

import pytest

from auditor.models.snapshot import SectionStatus

from .support import exchange_errors, graph_ok, local_audit


def test_a_child_that_dies_mid_pipeline_costs_only_its_section() -> None:
    snapshot = local_audit("die:Get-ApplicationAccessPolicy")
    errors = exchange_errors(snapshot)
    assert list(errors) == ["exchange.applicationAccessPolicies"]
    assert errors["exchange.applicationAccessPolicies"] == (
        "Get-ApplicationAccessPolicy: pwsh ended unexpectedly (exit code 1), while running Get-ApplicationAccessPolicy")
    assert graph_ok(snapshot)
    assert snapshot.sections["exchange.accessTests"].status is SectionStatus.OK  # later pipelines got a new child


def test_a_child_that_hangs_is_killed_after_the_timeout() -> None:
    started = time.monotonic()
    snapshot = local_audit("hang:Get-ManagementScope", timeout_s=2)
    assert time.monotonic() - started < 20
    assert exchange_errors(snapshot) == {"exchange.managementScopes": (
        "Get-ManagementScope: pwsh did not answer within 2 s, while running Get-ManagementScope; killed")}
    assert graph_ok(snapshot)


def test_non_psrp_output_mid_pipeline_is_one_clear_line() -> None:
    errors = exchange_errors(local_audit("garbage:Get-ServicePrincipal"))
    assert list(errors) == ["exchange.servicePrincipals"]
    assert errors["exchange.servicePrincipals"].startswith(
        "Get-ServicePrincipal: pwsh wrote something that is not PowerShell remoting (not an XML element): "
        "'WARNING: The ExchangeOnlineManagement module wrote this to the console'")


@pytest.mark.parametrize(("knob", "expected"), [
    ("exit", "pwsh reported an error: pwsh: The ExchangeOnlineManagement module could not be loaded; exiting."),
    ("garbage", "pwsh wrote something that is not PowerShell remoting (not an XML element): 'PowerShell 7.4.6'"),
])
def test_a_child_that_fails_at_start_fails_every_exchange_section_with_the_cause(knob: str, expected: str) -> None:
    snapshot = local_audit(knob)
    errors = exchange_errors(snapshot)
    assert len(errors) == 10 and len(set(errors.values())) == 1  # every exchange.* section
    assert next(iter(errors.values())).startswith(expected)
    assert graph_ok(snapshot)


@pytest.mark.parametrize(("knob", "expected"), [
    ("module:missing", "ExchangeOnlineManagement 3.1.0 or later is not available to "),
    ("module:3.0.0", "ExchangeOnlineManagement 3.1.0 or later is not available to "),
    ("version:7.1.0", " is PowerShell 7.1.0; the Exchange module needs 7.2 or later: install PowerShell 7.2 or later"),
])
def test_missing_or_old_module_or_powershell_says_what_to_install(knob: str, expected: str) -> None:
    errors = set(exchange_errors(local_audit(knob)).values())
    assert len(errors) == 1
    message = errors.pop()
    assert expected in message and "\n" not in message
    if knob.startswith("module"):
        assert message.endswith("in pwsh run: Install-Module ExchangeOnlineManagement -MinimumVersion 3.1.0 "
                                "-Scope CurrentUser")


def test_missing_pwsh_says_what_to_install(tmp_path: object) -> None:
    errors = set(exchange_errors(local_audit(pwsh_path="/nonexistent/pwsh")).values())
    assert errors == {"PowerShell 7 (/nonexistent/pwsh) was not found or is not executable: install PowerShell 7.2 "
                      "or later (https://aka.ms/install-powershell), or set [exchange] pwsh_path to its pwsh"}
