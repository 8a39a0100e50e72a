"""Every cmdlet through the real pypsrp client: output shapes, errors, batching, large outputs, parallel pools."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pypsrp.powershell import PowerShell, RunspacePool

from auditor.emulator.exchange import ExchangeService, exo_mailbox
from auditor.emulator.exchange.directory import derive_guid
from auditor.emulator.server import EmulatorServer

from .helpers import (
    APP_DENY_NESTED,
    APP_RBAC,
    APP_RESTRICTED,
    BULK_MAILBOXES,
    RBAC_OBJECT_ID,
    TENANT_ID,
    exchange_pool,
    props,
    run,
)

Pair = tuple[EmulatorServer, ExchangeService]
COMPLETED, FAILED = 4, 5
DM = "Deserialized.Microsoft.Exchange.Data.Directory.Management."
RECIPIENT = [
    "Identity",
    "Name",
    "DisplayName",
    "Alias",
    "PrimarySmtpAddress",
    "Guid",
    "ExternalDirectoryObjectId",
    "RecipientType",
    "RecipientTypeDetails",
]


@pytest.fixture(scope="module")
def pool(jump: Pair) -> Iterator[RunspacePool]:
    with exchange_pool(jump[0], "jump-host") as opened:
        yield opened


def _one(pool: RunspacePool, cmdlet: str, **parameters: Any) -> tuple[list[str], dict[str, Any]]:
    ps = run(pool, cmdlet, **parameters)
    assert ps.state == COMPLETED and not ps.streams.error, [str(e) for e in ps.streams.error]
    assert ps.output, cmdlet
    return ps.output[0].types, props(ps.output[0])


def test_mailbox_shape(pool: RunspacePool) -> None:
    types, mailbox = _one(pool, "Get-Mailbox", Identity="support@contoso.com")
    assert types[0] == DM + "Mailbox" and types[-1] == "Deserialized.System.Object"
    assert list(mailbox) == [
        *RECIPIENT,
        "ExchangeGuid",
        "Sid",
        "UserPrincipalName",
        "Department",
        *(f"CustomAttribute{i}" for i in range(1, 16)),
    ]
    assert isinstance(mailbox["Guid"], uuid.UUID)
    assert (mailbox["RecipientTypeDetails"], mailbox["CustomAttribute1"], mailbox["CustomAttribute2"]) == (
        "SharedMailbox",
        "support",
        "",
    )
    exo_types, exo = _one(pool, "Get-EXOMailbox", Identity="ceo")
    assert exo_types[0].endswith("ExoMailbox") and sorted(exo) == sorted(exo_mailbox.MINIMUM)  # exactly Minimum
    assert (exo["PrimarySmtpAddress"], exo["RecipientTypeDetails"]) == ("ceo@contoso.com", "UserMailbox")
    _, custom = _one(pool, "Get-EXOMailbox", Identity="ceo", PropertySets=["Minimum", "Custom"])
    assert custom["CustomAttribute15"] == "vip" and "Department" not in custom


def test_get_exo_mailbox_refuses_an_unknown_property_set(pool: RunspacePool) -> None:
    ps = run(pool, "Get-EXOMailbox", ResultSize="Unlimited", PropertySets="Everything")
    assert ps.had_errors and ps.state == 5  # Failed: a parameter binding error is terminating
    (error,) = ps.streams.error
    assert "Cannot bind parameter 'PropertySets'" in str(error) and "Minimum" in str(error)
    assert error.fq_error == "ParameterArgumentTransformationError,Get-EXOMailbox"


def test_group_and_member_shapes(pool: RunspacePool) -> None:
    types, group = _one(pool, "Get-DistributionGroup", Identity="cctr_sec_group@contoso.com")
    assert types[0] == DM + "DistributionGroup"
    assert list(group) == [*RECIPIENT, "Sid", "ManagedBy", "MemberJoinRestriction", "MemberDepartRestriction",
                           "GroupType"]
    assert group["ManagedBy"] == ["Exchange Admin", "admin@contoso.com"]
    assert (group["MemberJoinRestriction"], group["MemberDepartRestriction"]) == ("Closed", "Closed")
    assert group["GroupType"] == "Universal, SecurityEnabled"
    assert group["ExternalDirectoryObjectId"] == "33333333-cccc-4ccc-8ccc-000000000001"
    members = run(pool, "Get-DistributionGroupMember", Identity="cctr_sec_group")
    assert [m.types[0] for m in members.output] == [DM + "ReducedRecipient"] * 3
    assert [props(m)["PrimarySmtpAddress"] for m in members.output] == [
        "support@contoso.com",
        "sales@contoso.com",
        "tier2@contoso.com",
    ]  # direct members only
    assert props(members.output[2])["RecipientType"] == "MailUniversalSecurityGroup"
    security = run(pool, "Get-DistributionGroup", RecipientTypeDetails="MailUniversalSecurityGroup")
    assert [props(g)["Name"] for g in security.output] == ["cctr_sec_group", "tier2"]
    assert props(security.output[1])["MemberJoinRestriction"] == "Open"


def test_recipient_and_policy_shapes(pool: RunspacePool) -> None:
    types, recipient = _one(pool, "Get-Recipient", Identity="all-staff@contoso.com")
    assert types[0] == DM + "ReducedRecipient"
    assert list(recipient) == [*RECIPIENT, "IsValidSecurityPrincipal"]
    assert recipient["IsValidSecurityPrincipal"] is False
    ps = run(pool, "Get-ApplicationAccessPolicy")
    assert ps.output[0].types[0] == DM + "ApplicationAccessPolicy"
    policy = props(ps.output[0])
    assert list(policy) == [
        "ScopeName",
        "ScopeIdentity",
        "Identity",
        "AppId",
        "ScopeIdentityRaw",
        "Description",
        "AccessRight",
        "ShardType",
        "IsValid",
        "ObjectState",
    ]
    assert policy["IsValid"] is True and str(ps.output[0]) == policy["Identity"]
    types, test = _one(pool, "Test-ApplicationAccessPolicy", Identity="support@contoso.com", AppId=APP_RESTRICTED)
    assert types[0] == DM + "ApplicationAccessPolicyTestResult"
    assert list(test) == ["AppId", "Mailbox", "MailboxId", "MailboxSid", "AccessCheckResult"]
    assert (test["Mailbox"], test["AccessCheckResult"]) == ("support", "Granted")
    assert isinstance(test["MailboxId"], uuid.UUID) and test["MailboxSid"].startswith("S-1-5-21-")


def test_rbac_shapes(pool: RunspacePool) -> None:
    types, sp = _one(pool, "Get-ServicePrincipal", Identity=APP_RBAC)
    assert types[0] == DM + "ServicePrincipal"
    assert sp == {
        "Identity": RBAC_OBJECT_ID,
        "Name": RBAC_OBJECT_ID,
        "AppId": APP_RBAC,
        "ObjectId": RBAC_OBJECT_ID,
        "DisplayName": "Ticketing",
    }
    types, assignment = _one(
        pool,
        "Get-ManagementRoleAssignment",
        RoleAssigneeType="ServicePrincipal",
        RoleAssignee=RBAC_OBJECT_ID,
        Identity="ticketing-send-group",
    )
    assert types[0] == DM + "ExchangeRoleAssignmentPresentation"
    assert assignment == {
        "Identity": "ticketing-send-group",
        "Name": "ticketing-send-group",
        "Role": "Application Mail.Send",
        "RoleAssignee": RBAC_OBJECT_ID,
        "RoleAssigneeName": "Ticketing",
        "RoleAssigneeType": "ServicePrincipal",
        "AssignmentMethod": "Direct",
        "CustomResourceScope": None,
        "RecipientGroupScope": "cctr_sec_group@contoso.com",
        "RecipientWriteScope": "Group",
        "Enabled": True,
    }
    types, scope = _one(pool, "Get-ManagementScope")
    assert types[0].endswith("SystemConfiguration.ManagementScope")
    assert scope["RecipientRestrictionFilter"] == "CustomAttribute1 -eq 'support'"
    escalations = str(derive_guid(TENANT_ID, "escalations@contoso.com"))  # -Resource takes a GUID, not an address
    ps = run(pool, "Test-ServicePrincipalAuthorization", Identity=APP_RBAC, Resource=escalations)
    rows = {props(o)["RoleName"]: props(o) for o in ps.output}
    assert list(rows["Application Mail.Send"]) == [
        "RoleName",
        "GrantedPermissions",
        "AllowedResourceScope",
        "ScopeType",
        "InScope",
    ]
    assert {k: v["InScope"] for k, v in rows.items()} == {
        "Application Mail.Read": True,
        "Application Mail.ReadWrite": True,
        "Application Mail.Send": False,
    }


def test_missing_mailbox_is_a_non_terminating_error(pool: RunspacePool) -> None:
    ps = run(pool, "Test-ApplicationAccessPolicy", Identity="nobody@contoso.com", AppId=APP_RESTRICTED)
    assert ps.state == COMPLETED and ps.had_errors is False and ps.output == []
    (error,) = ps.streams.error
    assert str(error).startswith(
        "The operation couldn't be performed because object 'nobody@contoso.com' couldn't be found on '"
    )
    assert "[FailureCategory=Cmdlet-ManagementObjectNotFoundException]" in error.fq_error
    assert error.message.endswith("[Test-ApplicationAccessPolicy], ManagementObjectNotFoundException")
    assert error.target_object == "nobody@contoso.com"


@pytest.mark.parametrize(
    "identity", ["'; Remove-Mailbox ceo; '", "$(Remove-Mailbox ceo)", "`ceo`; exit", "ceo\n", " ceo "]
)
def test_metacharacters_are_plain_data(pool: RunspacePool, identity: str) -> None:
    ps = run(pool, "Get-Mailbox", Identity=identity)
    assert ps.state == COMPLETED and ps.output == []
    (error,) = ps.streams.error
    assert error.target_object == identity and f"object '{identity}' couldn't be found" in str(error)


def test_result_size_truncates_with_a_warning(pool: RunspacePool) -> None:
    default = run(pool, "Get-Mailbox")
    assert len(default.output) == 1000
    assert [w.message for w in default.streams.warning] == [
        "There are more results available than are currently displayed. To view them, increase the value for "
        "the ResultSize parameter."
    ]
    small = run(pool, "Get-Recipient", ResultSize=3)
    assert len(small.output) == 3 and small.streams.warning


def test_statement_batch_returns_rows_in_order(jump: Pair, pool: RunspacePool) -> None:
    mailboxes = ["support@contoso.com", "escalations@contoso.com", "ceo@contoso.com", "user0007@contoso.com"]
    guids = {props(run(pool, "Get-Mailbox", Identity=m).output[0])["Guid"]: m for m in mailboxes}
    ps = PowerShell(pool)
    for mailbox in mailboxes:
        ps.add_cmdlet("Test-ApplicationAccessPolicy").add_parameter("Identity", mailbox)
        ps.add_parameter("AppId", APP_DENY_NESTED).add_statement()
    before = jump[0].counters.snapshot()
    ps.invoke()
    after = jump[0].counters.snapshot()
    rows = [props(o) for o in ps.output]
    assert [guids[r["MailboxId"]] for r in rows] == mailboxes
    assert [r["AccessCheckResult"] for r in rows] == ["Granted", "Denied", "Denied", "Denied"]
    assert after["psrp:Test-ApplicationAccessPolicy"] - before.get("psrp:Test-ApplicationAccessPolicy", 0) == 4
    # One pipeline = one Command + one Receive, whatever the number of statements.
    assert {k: after[k] - before.get(k, 0) for k in after if k.startswith("wsman:") and after[k] != before.get(k)} == {
        "wsman:Command": 1,
        "wsman:Receive": 1,
    }


def test_piping_groups_into_members(pool: RunspacePool) -> None:
    ps = PowerShell(pool)
    ps.add_cmdlet("Get-DistributionGroup").add_parameter("Identity", "tier2")
    ps.add_cmdlet("Get-DistributionGroupMember")
    ps.invoke()
    assert [props(o)["Name"] for o in ps.output] == ["escalations"]


def test_big_output_spans_several_receives(jump: Pair, pool: RunspacePool) -> None:
    server, _ = jump
    sizes: list[tuple[bytes, int]] = []
    handler = server.wsman_handler
    assert handler is not None

    def recording(path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        reply = handler(path, headers, body)
        sizes.append((body, len(reply[2])))
        return reply

    server.wsman_handler = recording
    try:
        ps = run(pool, "Get-Mailbox", ResultSize="Unlimited")
    finally:
        server.wsman_handler = handler
    assert len(ps.output) == BULK_MAILBOXES + 6 and not ps.streams.warning
    receives = [(req, size) for req, size in sizes if b"/windows/shell/Receive<" in req]
    assert len(receives) >= 3
    for request, size in receives:  # each reply fits the MaxEnvelopeSize that request announced
        announced = int(request.split(b"MaxEnvelopeSize")[1].split(b">")[1].split(b"<")[0])
        assert size <= announced


def test_two_pools_in_parallel_threads(jump: Pair) -> None:
    server, _ = jump
    results: dict[int, list[str]] = {}
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            with exchange_pool(server, "jump-host") as own:
                verdicts = []
                for n in range(15):
                    ps = run(own, "Test-ApplicationAccessPolicy", Identity=f"user{n:04d}", AppId=APP_RESTRICTED)
                    verdicts.append(props(ps.output[0])["AccessCheckResult"])
                results[index] = verdicts
        except BaseException as exc:  # reported below, in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert results == {0: ["Denied"] * 15, 1: ["Denied"] * 15}
