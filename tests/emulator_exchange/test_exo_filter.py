"""Get-EXOMailbox -Filter, and the partitioned listing built on it: exactly the plain listing, no more, no less."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from auditor.collect.listing import classes, merge, partition_filters
from auditor.emulator.exchange.cmdlets import ExchangeCmdlets
from auditor.emulator.exchange.model import CmdletError
from auditor.emulator.tenant import load_tenant
from tests.emulator_exchange.helpers import DOMAIN, tenant_doc

ASKED = {"ResultSize": "Unlimited", "PropertySets": "Minimum", "Properties": ["ExchangeGuid", "Sid"]}
ODD_NAMES = ["7even", "ends-in-9", "Zoë", "Ærøskøbing", "Straße", "ÉMILE", "müller_", "o'brien", "x.y.", "under_",
             "dash-", "名前", "Дмитрий", "tab end!", "PLUS+", "at@", "UPPER-A", "lower-z", "_lead", "0", "Ω",
             "ends*star"]


def _doc(extra_names: list[str], bulk: int, seed: int) -> dict[str, Any]:
    doc = tenant_doc(bulk=0)
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_.éüß"
    names = [*extra_names, *("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12))) + str(i)
                             for i in range(bulk))]
    kinds = ("UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox")
    for n, name in enumerate(names):
        doc["exchange"]["mailboxes"].append({"Name": name, "DisplayName": name, "RecipientTypeDetails": kinds[n % 4],
                                             "PrimarySmtpAddress": f"m{n}-{seed}@{DOMAIN}"})
    return doc


def _cmdlets(doc: dict[str, Any]) -> ExchangeCmdlets:
    tenant = load_tenant(doc)
    return ExchangeCmdlets(tenant.id, tenant.doc, tenant.now)


def _guids(records: Any) -> list[str]:
    return [r.properties["Guid"] for r in records]


@pytest.mark.parametrize(("extra", "bulk", "seed"), [(ODD_NAMES, 0, 1), (ODD_NAMES, 300, 2), ([], 40, 3),
                                                     (["only-odd-ß"], 0, 4)])
def test_the_partitions_are_disjoint_and_their_union_is_the_plain_listing(extra, bulk, seed) -> None:
    cmdlets = _cmdlets(_doc(extra, bulk, seed))
    plain = _guids(cmdlets.invoke("Get-EXOMailbox", ASKED).records)
    parts = [cmdlets.invoke("Get-EXOMailbox", {**ASKED, "Filter": text}).records for text in partition_filters()]
    served = Counter(g for part in parts for g in _guids(part))
    assert sorted(served) == sorted(plain)  # nothing lost, nothing invented
    assert set(served.values()) == {1}  # nothing served twice, before any merge
    assert bulk or any(not part for part in parts)  # an empty partition is part of the proof
    rows, doubles = merge([[r.properties for r in part] for part in parts])
    assert sorted(r["Guid"] for r in rows) == sorted(plain) and doubles == 0


def test_odd_last_characters_land_in_the_complement() -> None:
    cmdlets = _cmdlets(_doc(ODD_NAMES, 0, 5))
    rest = cmdlets.invoke("Get-EXOMailbox", {**ASKED, "Filter": partition_filters()[-1]}).records
    names = {r.properties["Name"] for r in rest}
    assert {"Zoë", "müller_", "名前", "Ω", "x.y.", "PLUS+", "at@", "tab end!"} <= names
    assert not names & {"7even", "ends-in-9", "UPPER-A", "lower-z", "0", "Straße", "ends*star"}  # a class ends them


def test_classes_cover_each_digit_and_letter_once() -> None:
    dealt = "".join(classes())
    assert sorted(dealt) == sorted("0123456789abcdefghijklmnopqrstuvwxyz") and len(classes()) == 10


def test_a_mailbox_served_by_two_partitions_counts_once() -> None:
    rows, doubles = merge([[{"Guid": "A", "Name": "x"}], [{"Guid": "a", "Name": "renamed"}, {"Guid": "b"}]])
    assert [r["Guid"] for r in rows] == ["A", "b"] and doubles == 1


@pytest.mark.parametrize(("text", "names"), [
    ("Name -like '*9'", {"ends-in-9"}),
    ("Name -notlike '*' -or Name -eq '0'", {"0"}),
    ("Name -lt '0' -and Name -like '_*'", set()),
    ("(Name -like 'ends*') -and -not (Name -like '*9')", {"ends*star"}),
    ("DisplayName -eq 'ZOË'", {"Zoë"}),
    ("Name -gt 'zz' -and Name -like 'Д*'", {"Дмитрий"}),
])
def test_documented_operators_filter_as_exchange_does(text: str, names: set[str]) -> None:
    cmdlets = _cmdlets(_doc(ODD_NAMES, 0, 6))
    found = {r.properties["Name"] for r in cmdlets.invoke("Get-EXOMailbox", {**ASKED, "Filter": text}).records}
    assert found == names


@pytest.mark.parametrize(("text", "why"), [
    ("Name -like 'a*b*c'", "wildcard may stand only"),
    ("Name -eq 'a*'", "wildcards need -like"),
    ("Name -match 'a'", "unsupported operator"),
    ("Name -ge 'a'", "unsupported operator"),
    ("MemberOfGroup -eq 'x'", "unsupported property"),
    ("Name -like a*", "expected a quoted value"),
    ("", "empty filter"),
])
def test_undocumented_filters_are_refused_as_binding_errors(text: str, why: str) -> None:
    cmdlets = _cmdlets(_doc([], 3, 7))
    with pytest.raises(CmdletError, match=f"Cannot bind parameter 'Filter'.*{why}"):
        cmdlets.invoke("Get-EXOMailbox", {**ASKED, "Filter": text})
