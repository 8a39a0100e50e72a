"""The Exchange collector and checks under each realism profile: each undocumented form, over PSRP and REST.

One emulator per profile serves both transports from one cmdlet layer; each test reads what a user would see
(sections, verdicts, pipelines run), so it fails on a collector that bets on one form (docs/emulator.md).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import pytest

from auditor.collect.exchange_identities import NO_POLICIES_SOURCE
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import load_tenant
from auditor.engine import evaluate
from auditor.models import exchange as ex
from auditor.models.baseline import Baseline
from auditor.models.findings import Status
from auditor.models.snapshot import Section, SectionStatus
from tests.builders import integration
from tests.emulator_exchange.helpers import APP_RESTRICTED
from tests.rest_transport.support import both_transports, collect_rest

from .support import QUEUES, SCOPE_GROUP, audit_baseline, collect, collector_doc, snapshot_with

TRANSPORTS = ("psrp", "rest")
Sections = dict[str, Section]


@contextlib.contextmanager
def serving(realism: dict[str, str], policies: list[Any] | None = None) -> Iterator[EmulatorServer]:
    doc = copy.deepcopy(collector_doc())
    doc["emulator"]["realism"] = realism
    if policies is not None:
        doc["exchange"]["applicationAccessPolicies"] = policies
    with both_transports(load_tenant(doc)) as (server, _):
        yield server


def collected(server: EmulatorServer, transport: str, base: Baseline | None = None) -> tuple[Sections, Any]:
    base = base or audit_baseline()
    return collect(server, base) if transport == "psrp" else collect_rest(server, base)


def verdicts(sections: Sections, base: Baseline | None = None) -> dict[tuple[str, str, str], tuple[Status, str]]:
    findings = evaluate(snapshot_with(sections), base or audit_baseline()).findings
    return {(f.integration, f.check_id, f.resource): (f.status, f.message) for f in findings}


@pytest.fixture(scope="module")
def default_run() -> tuple[Sections, dict[tuple[str, str, str], tuple[Status, str]]]:
    with serving({}) as server:
        sections, _ = collected(server, "psrp")
    return sections, verdicts(sections)


def _wrong_group_baseline() -> Baseline:
    """Contact Center as if its scope group were tier2: the policy (on cctr_sec_group) targets another group."""
    base = audit_baseline()
    contact = integration(name="Contact Center", app_id=APP_RESTRICTED, scope_group="tier2@contoso.com",
                          mailboxes=QUEUES, canaries=("ceo@contoso.com",))
    return dataclasses.replace(base, integrations=(contact, *base.integrations[1:]))


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("form", ["exchange_guid", "entra_object_id"])
def test_scope_002_judges_the_policy_whichever_guid_scope_identity_raw_carries(form: str, transport: str) -> None:
    with serving({"scopeIdentityGuid": form}) as server:
        sections, _ = collected(server, transport)
        wrong_sections, _ = collected(server, transport, _wrong_group_baseline())
    group = ex.parse_group(sections["exchange.groups"].data[0])
    policy = next(ex.parse_policy(p) for p in sections["exchange.applicationAccessPolicies"].data
                  if p["AppId"] == APP_RESTRICTED and p["AccessRight"] == "RestrictAccess")
    served = group.recipient.external_directory_object_id if form == "entra_object_id" else group.recipient.guid
    assert (policy.scope_sid, policy.scope_guid) == (group.recipient.sid, served)  # the profile's form, served

    key = ("Contact Center", "SCOPE-002", APP_RESTRICTED)
    assert verdicts(sections)[key] == (Status.PASS, f"valid RestrictAccess policy on {SCOPE_GROUP}")
    # Without the group's Sid (a host whose rows lack it), the GUID decides, as the group's Guid or directory id.
    no_sid = [{k: v for k, v in g.items() if k != "Sid"} for g in sections["exchange.groups"].data]
    assert verdicts({**sections, "exchange.groups": dataclasses.replace(sections["exchange.groups"],
                                                                         data=no_sid)})[key][0] is Status.PASS
    wrong = verdicts(wrong_sections, _wrong_group_baseline())[key]
    assert wrong == (Status.FAIL, f"policy targets {SCOPE_GROUP}, not tier2@contoso.com")


ID_OF = {"guid": "Guid", "exchange_guid": "ExchangeGuid", "external_directory_object_id": "ExternalDirectoryObjectId",
         "mailbox_sid": "Sid"}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("form", list(ID_OF))
def test_access_tests_are_matched_in_batches_whatever_mailbox_id_carries(form: str, transport: str,
                                                                          default_run: Any) -> None:
    with serving({"mailboxId": form}) as server:
        sections, facts = collected(server, transport)
    tests = sections["exchange.accessTests"]
    assert tests.status is SectionStatus.OK and not tests.item_errors
    rows = {f"{t['AppId']}|{t['Identity']}": t for t in tests.data}
    assert list(rows) == list(tests.queried or ())
    mailboxes = {m["PrimarySmtpAddress"].lower(): m for m in sections["exchange.mailboxes"].data}
    assert all(str(t["MailboxId"]).lower() == str(mailboxes[t["Identity"]][ID_OF[form]]).lower()
               for t in rows.values())  # the profile's form, served
    # Over PSRP, matched back inside the batched pipeline (no item rerun on its own); REST sends one test a request.
    pipelines = facts["exchange"]["pipelines_by_cmdlet"]["Test-ApplicationAccessPolicy"]
    assert pipelines == (math.ceil(len(rows) / 50) if transport == "psrp" else len(rows))
    reference = default_run[0]["exchange.accessTests"].data
    assert {k: t["AccessCheckResult"] for k, t in rows.items()} == {
        f"{t['AppId']}|{t['Identity']}": t["AccessCheckResult"] for t in reference}
    assert {k: v for k, v in verdicts(sections).items() if k[1] in ("SCOPE-004", "SCOPE-005")} == {
        k: v for k, v in default_run[1].items() if k[1] in ("SCOPE-004", "SCOPE-005")}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("answer", ["accepted", "terminating_error", "non_terminating_error"])
def test_role_assignments_do_not_depend_on_the_undocumented_filter(answer: str, transport: str,
                                                                   default_run: Any) -> None:
    with serving({"roleAssigneeTypeFilter": answer}) as server:
        sections, _ = collected(server, transport)
    roles = sections["exchange.roleAssignments"]
    assert roles.status is SectionStatus.OK, roles.error
    # Every assignment is listed (the tenant's role groups too) and only the service principals' are kept.
    assert sorted(r["Name"] for r in roles.data) == ["ticketing-read-org", "ticketing-rw-support",
                                                     "ticketing-send-group"]
    assert roles.data == default_run[0]["exchange.roleAssignments"].data
    assert {k: v for k, v in verdicts(sections).items() if k[1] in ("SCOPE-006", "TEN-001")} == {
        k: v for k, v in default_run[1].items() if k[1] in ("SCOPE-006", "TEN-001")}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_authorization_tests_name_the_mailbox_by_guid(transport: str, default_run: Any) -> None:
    # -Resource takes a name, DN or GUID; the emulator, like Exchange, resolves no SMTP address there.
    with serving({}) as server:
        sections, _ = collected(server, transport)
    authz = sections["exchange.authorizationTests"]
    assert authz.status is SectionStatus.OK and not authz.item_errors
    assert all(entry["Rows"] for entry in authz.data)
    assert [e["Resource"] for e in authz.data] == [e["Resource"] for e in default_run[0][
        "exchange.authorizationTests"].data]  # the evidence still names the mailbox by address


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_tenant_that_never_had_a_policy_has_no_policies_under_either_answer(transport: str) -> None:
    runs = {}
    for answer in ("empty", "error"):
        with serving({"noPolicies": answer}, policies=[]) as server:
            runs[answer], _ = collected(server, transport)
    empty, error = (runs[a]["exchange.applicationAccessPolicies"] for a in ("empty", "error"))
    assert (empty.status, empty.data, empty.source) == (SectionStatus.OK, [], "exo:Get-ApplicationAccessPolicy")
    assert (error.status, error.data, error.source) == (SectionStatus.OK, [], NO_POLICIES_SOURCE)
    same = {k: v for k, v in verdicts(runs["empty"]).items()}
    assert verdicts(runs["error"]) == same
    assert same[("Contact Center", "SCOPE-001", APP_RESTRICTED)][0] is Status.FAIL  # restricted by nothing now
    assert not [k for k, v in same.items() if v[0] is Status.ERROR and k[1].startswith("SCOPE")]
