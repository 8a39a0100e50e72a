"""Group members read in batches (a marker row per group) are exactly the members read one group at a time."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from auditor.collect.group_members import read_members, read_one, split_by_marker
from auditor.collect.psrp import PsrpShellPool
from auditor.collect.shell import Command
from auditor.emulator.exchange import ExchangeService
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import load_tenant
from tests.emulator_exchange.helpers import exchange_token, running

from .support import collector_doc, settings_for


def row(guid: str, kind: str = "UserMailbox") -> dict[str, Any]:
    return {"Guid": guid, "RecipientTypeDetails": kind}


def test_each_group_gets_the_rows_before_its_own_row():
    g3, m, n = row("g3", "MailUniversalSecurityGroup"), row("m"), row("n")
    # g1 holds m and g3 (a group not in the batch); g2 is empty; g4 holds n
    rows = [m, g3, row("g1", "MailUniversalSecurityGroup"), row("g2", "MailUniversalSecurityGroup"), n,
            row("g4", "MailUniversalSecurityGroup")]
    assert split_by_marker(rows, ["g1", "g2", "g4"]) == [[m, g3], [], [n]]


@pytest.mark.parametrize("rows", [
    [row("g1"), row("g2"), row("m")],  # something after the last marker
    [row("m"), row("g1")],  # the second marker missing
    [row("g2"), row("g1"), row("g2")],  # g2 nested in g1, both asked: member or marker? not guessed
    [row("g1"), row("g1"), row("g2")],  # g1 a member of itself (undocumented either way): not guessed
    [row("g2"), row("g1")],  # the markers out of order
    [],
])
def test_output_of_another_shape_is_not_split(rows):
    assert split_by_marker(rows, ["g1", "g2"]) is None


def many_groups_doc() -> tuple[dict[str, Any], list[str]]:
    """The collector tenant plus 60 groups: the first 30 each nest an inner group (not asked) holding a mailbox;
    the rest hold a mailbox, or none (every seventh); groups 58 and 59 (one batch) nest each other."""
    doc = collector_doc()
    mailboxes = [m["PrimarySmtpAddress"] for m in doc["exchange"]["mailboxes"]]

    def group(name: str, members: list[str], n: int) -> dict[str, Any]:
        return {"Name": name, "DisplayName": name, "PrimarySmtpAddress": f"{name}@contoso.com",
                "RecipientTypeDetails": "MailUniversalSecurityGroup", "Members": members,
                "ExternalDirectoryObjectId": f"44444444-dddd-4ddd-8ddd-{n:012d}", "ManagedBy": []}

    groups, inner = [], []
    for i in range(60):
        members = [mailboxes[i % len(mailboxes)]] if i % 7 else []
        if i < 30:
            members.append(f"inner-{i}@contoso.com")
            inner.append(group(f"inner-{i}", [mailboxes[(i + 3) % len(mailboxes)]], 100 + i))
        groups.append(group(f"bulk-group-{i}", members, i))
    groups[58]["Members"].append("bulk-group-59@contoso.com")
    groups[59]["Members"].append("bulk-group-58@contoso.com")
    doc["exchange"]["distributionGroups"] += groups + inner
    return doc, [g["PrimarySmtpAddress"] for g in groups]


@pytest.fixture(scope="module")
def bulk() -> Iterator[tuple[EmulatorServer, ExchangeService, list[str]]]:
    doc, addresses = many_groups_doc()
    with running(load_tenant(copy.deepcopy(doc)), "jump-host") as (server, service):
        yield server, service, addresses


def test_members_read_in_batches_are_those_read_one_group_at_a_time(bulk):
    server, _, addresses = bulk
    pool = PsrpShellPool.open(settings_for(server), lambda: exchange_token(server))
    try:
        guids = [str(pool.run([_group(a)]).rows[0]["Guid"]) for a in addresses]
        guids.append("00000000-0000-4000-8000-00000000dead")  # not a group: its batch is read again one by one
        before = dict(pool.pipelines_by_cmdlet)
        batched = read_members(pool, guids)
        batched_pipelines = pool.pipelines_by_cmdlet["Get-DistributionGroupMember"] - before.get(
            "Get-DistributionGroupMember", 0)
        singles = [read_one(pool, g) for g in guids]
    finally:
        pool.close()
    assert [m.rows for m in batched] == [m.rows for m in singles]
    assert sum(1 for m in batched[:60] if m.rows) > 50
    assert any(r["PrimarySmtpAddress"] == "bulk-group-59@contoso.com" for r in batched[58].rows)
    assert batched[-1].rows == [] and "couldn't be found" in str(batched[-1].problem)
    # 61 groups in 25s: two clean batches; the third (a missing group, two nested in each other) read again one
    # group at a time after its error
    assert batched_pipelines == 2 + 1 + 11


def test_a_batch_with_groups_nested_in_each_other_batches_the_others_again(bulk):
    server, _, addresses = bulk
    pool = PsrpShellPool.open(settings_for(server), lambda: exchange_token(server))
    try:
        guids = [str(pool.run([_group(a)]).rows[0]["Guid"]) for a in addresses[35:]]  # 58 and 59 nest each other
        before = pool.pipelines_by_cmdlet.get("Get-DistributionGroupMember", 0)
        batched = read_members(pool, guids)
        used = pool.pipelines_by_cmdlet["Get-DistributionGroupMember"] - before
        singles = [read_one(pool, g) for g in guids]
    finally:
        pool.close()
    assert [m.rows for m in batched] == [m.rows for m in singles]
    assert used == 1 + 1 + 2  # the batch, the 23 others again, the two nested ones alone


def _group(address: str) -> Command:
    return Command("Get-DistributionGroup", {"Identity": address})
