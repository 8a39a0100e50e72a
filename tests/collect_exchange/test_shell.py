"""The shell seam: the allowlist, PsrpShell against the emulator, normalisation, retries, canary sampling."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from auditor.collect.allowlist import ALLOWED_CMDLETS, NotAllowedError, ensure_allowed
from auditor.collect.canaries import choose_canaries, sample_canaries, transitive_members
from auditor.collect.psrp import PsrpShell, PsrpShellPool
from auditor.collect.shell import Command, Output, PipelineFailed, ShellPool, ShellStats, plain_row, plain_value
from auditor.emulator.exchange import ExchangeService
from auditor.emulator.server import EmulatorServer
from auditor.errors import CollectionError
from tests.emulator_exchange.helpers import APP_RESTRICTED, exchange_token

from .support import settings_for, wsman_counts

Pair = tuple[EmulatorServer, ExchangeService]
REFUSED = ["Set-Mailbox", "New-ApplicationAccessPolicy", "Remove-ApplicationAccessPolicy",
           "Add-DistributionGroupMember", "Set-ApplicationAccessPolicy", "Invoke-Expression",
           "Get-Mailbox; Remove-Mailbox x", "Get-Mailbox | Remove-Mailbox", "& { Get-Date }", "", "Get-Mailbox "]


@pytest.fixture(scope="module")
def shell(jump_host: Pair) -> Iterator[PsrpShell]:
    server, _ = jump_host
    opened = PsrpShell(settings_for(server, pools=1), lambda: exchange_token(server)).open()
    yield opened
    opened.close()


def test_allowlist_is_exactly_the_read_only_cmdlets() -> None:
    assert sorted(ALLOWED_CMDLETS) == sorted([
        "Connect-ExchangeOnline", "Import-Module", "Get-ApplicationAccessPolicy", "Test-ApplicationAccessPolicy",
        "Get-DistributionGroup", "Get-DistributionGroupMember", "Get-Mailbox", "Get-EXOMailbox", "Get-Recipient",
        "Get-ServicePrincipal", "Get-ManagementRoleAssignment", "Get-ManagementScope",
        "Test-ServicePrincipalAuthorization"])
    assert ensure_allowed("get-mailbox") == "Get-Mailbox"


@pytest.mark.parametrize("name", REFUSED)
def test_allowlist_refuses_before_any_request(jump_host: Pair, shell: PsrpShell, name: str) -> None:
    server, _ = jump_host
    before = wsman_counts(server)
    with pytest.raises(NotAllowedError, match="refusing to send"):
        Command(name, {"Identity": "x"})
    forged = Command("Get-Mailbox")
    object.__setattr__(forged, "name", name)  # even a forged command never leaves the process
    with pytest.raises(CollectionError, match="refusing to send"):
        shell.run([Command("Get-Recipient"), forged])
    assert wsman_counts(server) == before


def test_parameter_names_are_identifiers() -> None:
    with pytest.raises(NotAllowedError):
        Command("Get-Mailbox", {"Identity; Remove-Mailbox": "x"})
    with pytest.raises(NotAllowedError):
        Command("Get-Mailbox", {"-Identity": "x"})


def test_statements_share_one_pipeline_and_errors_name_their_target(jump_host: Pair, shell: PsrpShell) -> None:
    server, _ = jump_host
    nasty = "'; Remove-Mailbox x; '$(Get-Date)`n"
    before = dict(shell.stats.__dict__)
    test = Command("Test-ApplicationAccessPolicy", {"Identity": "sales@contoso.com", "AppId": APP_RESTRICTED})
    out = shell.run([Command("Get-Mailbox", {"Identity": "support@contoso.com"}),
                     Command("Get-Mailbox", {"Identity": nasty}), test])
    assert shell.stats.pipelines - before["pipelines"] == 1 and shell.stats.round_trips - before["round_trips"] == 2
    assert [r.get("PrimarySmtpAddress", r.get("AccessCheckResult")) for r in out.rows] == [
        "support@contoso.com", "Granted"]
    (error,) = out.errors
    assert error.target == nasty and error.statement_index is None and error.not_found
    assert f"object '{nasty}' couldn't be found" in error.message
    assert "ManagementObjectNotFoundException" in error.fq_error
    row = out.rows[0]
    assert row["Guid"] == str(uuid.UUID(row["Guid"])) and isinstance(row["CustomAttribute1"], str)
    counts = server.counters.snapshot()
    assert not any("remove" in k.lower() or "get-date" in k.lower() for k in counts)


def test_single_statement_errors_carry_index_zero_and_warnings_surface(shell: PsrpShell) -> None:
    out = shell.run([Command("Get-Mailbox", {"ResultSize": 3})])
    assert len(out.rows) == 3 and out.warnings == [
        "There are more results available than are currently displayed. To view them, increase the value for the "
        "ResultSize parameter."]
    everything = shell.run([Command("Get-Mailbox", {"ResultSize": "Unlimited"})])
    assert len(everything.rows) == 20 and not everything.warnings
    missing = shell.run([Command("Get-Recipient", {"Identity": "nobody@contoso.com"})])
    assert missing.rows == [] and missing.errors[0].statement_index == 0


def test_command_not_found_is_terminating_and_never_retried(jump_host: Pair) -> None:
    server, _ = jump_host
    unconnected = PsrpShell(settings_for(server, connect="direct", pools=1)).open()  # jump host, no Connect
    try:
        with pytest.raises(PipelineFailed, match="'Get-Mailbox' is not recognized") as info:
            unconnected.run([Command("Get-Mailbox")])
        assert info.value.error.command_not_found and unconnected.stats.retries == 0
    finally:
        unconnected.close()


def test_transient_503_is_retried(jump_host: Pair) -> None:
    server, _ = jump_host
    pool = PsrpShellPool.open(settings_for(server, pools=1, backoff_s=(0.5, 0.5)), lambda: exchange_token(server))
    try:
        server.faults.exchange_down = True
        threading.Timer(0.15, lambda: setattr(server.faults, "exchange_down", False)).start()
        out = pool.run([Command("Get-Recipient", {"Identity": "support@contoso.com"})])
        assert len(out.rows) == 1 and pool.stats().retries == 1
    finally:
        server.faults.exchange_down = False
        pool.close()


def test_pool_map_runs_on_every_shell(jump_host: Pair) -> None:
    server, _ = jump_host
    pool = PsrpShellPool.open(settings_for(server, pools=3), lambda: exchange_token(server))
    try:
        names = pool.map(lambda a: pool.run([Command("Get-Recipient", {"Identity": a})]).rows[0]["Name"],
                         ["support", "sales", "ceo", "hr", "room1"])
        assert names == ["support", "sales", "ceo", "hr", "room1"]
        assert all(s.stats.pipelines >= 2 for s in pool.shells)  # Connect + at least one read each
        assert pool.facts()["pools"] == 3
    finally:
        pool.close()


class _Fake:
    def __init__(self, adapted: dict | None = None, extended: dict | None = None, text: str = "") -> None:
        self.adapted_properties, self.extended_properties, self.text = adapted or {}, extended or {}, text

    def __str__(self) -> str:
        return self.text


def test_values_are_normalised_at_the_boundary() -> None:
    guid = uuid.UUID("DADC9093-C5D5-5969-A1DA-331B44C1D709")
    row = plain_row(_Fake({"Guid": guid, "When": datetime(2026, 1, 2, 3, 4, 5), "Flag": True, "Count": 3,
                           "Kind": _Fake(text="SharedMailbox"), "Upper": "DADC9093-C5D5-5969-A1DA-331B44C1D709"},
                          {"Note": None, "List": ["a", guid], "Nested": _Fake({"X": 1})}))
    assert row == {"Guid": str(guid), "When": "2026-01-02T03:04:05+00:00", "Flag": True, "Count": 3,
                   "Kind": "SharedMailbox", "Upper": str(guid), "Note": None, "List": ["a", str(guid)],
                   "Nested": {"X": 1}}
    assert plain_value("Support@Contoso.com") == "Support@Contoso.com"  # addresses as returned
    assert plain_row("text") == {"Value": "text"}


def test_canary_sample_is_the_sha256_order() -> None:
    pool = [f"user{i}@contoso.com" for i in range(30)]
    app = "11111111-AAAA-4aaa-8aaa-000000000001"
    expected = sorted(pool[3:], key=lambda a: hashlib.sha256((app.lower() + a).encode()).hexdigest())[:4]
    assert sample_canaries(app, [a.upper() for a in pool], pool[:3], 4) == expected
    assert sample_canaries(app, pool, [], 0) == []
    assert sample_canaries("22222222-bbbb-4bbb-8bbb-000000000001", pool, [], 4) != sample_canaries(app, pool, [], 4)


def test_transitive_members_cut_cycles_and_report_gaps() -> None:
    def group(guid: str, *members: dict) -> dict:
        return {"Guid": guid, "PrimarySmtpAddress": f"{guid}@x", "Members": list(members)}

    def member(guid: str, kind: str = "SharedMailbox") -> dict:
        return {"Guid": guid, "PrimarySmtpAddress": f"{guid}@x", "RecipientTypeDetails": kind}

    groups = [group("g1", member("a"), member("g2", "MailUniversalSecurityGroup")),
              group("g2", member("b"), member("g1", "MailUniversalSecurityGroup"))]
    assert transitive_members(groups, "g1", {}) == ({"a", "a@x", "b", "b@x"}, None)
    members, problem = transitive_members(groups[:1], "g1", {"g2@x": "boom"})
    assert members == set() and problem == "the members of nested group g2@x were not collected: boom"
    pool = [member(x, "UserMailbox") for x in ("a", "b", "c", "d")]
    entry, rows = choose_canaries("app", ["D@X"], [], {"a", "b"}, pool, 5)
    assert entry["sampled"] == ["c@x"] and entry["explicit"] == ["d@x"] and rows == [pool[2]]


def test_a_background_read_waits_while_a_read_on_the_longest_path_wants_the_shell():
    order: list[str] = []

    class Recording:
        stats = ShellStats()

        def run(self, commands):
            order.append(commands[0].describe())
            time.sleep(0.05)
            return Output()

        def close(self) -> None:
            pass

    pool = ShellPool([Recording()])
    background = pool.background()
    busy = threading.Thread(target=pool.run, args=([Command("Get-Mailbox", {"Identity": "first"})],))
    busy.start()
    time.sleep(0.01)  # the one shell is taken; now a background read queues, then a foreground one
    late = threading.Thread(target=background.run, args=([Command("Get-DistributionGroupMember")],))
    late.start()
    time.sleep(0.01)
    urgent = threading.Thread(target=pool.run, args=([Command("Test-ApplicationAccessPolicy")],))
    urgent.start()
    for thread in (busy, late, urgent):
        thread.join(5)
    assert order == ["Get-Mailbox -Identity", "Test-ApplicationAccessPolicy", "Get-DistributionGroupMember"]
    assert pool.pipelines_by_cmdlet == {"Get-Mailbox": 1, "Get-DistributionGroupMember": 1,
                                        "Test-ApplicationAccessPolicy": 1}
