"""Helpers for the Exchange emulator tests: the test tenant, servers, real pypsrp clients."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from auditor.demo import DEMO_TENANT
from auditor.emulator.exchange import ExchangeService, attach
from auditor.emulator.exchange.cmdlets import ExchangeCmdlets
from auditor.emulator.exchange.directory import derive_guid
from auditor.emulator.exchange.model import Record
from auditor.emulator.faults import FaultPlan
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import Tenant, load_tenant

TENANT_ID = "7d3c2a10-5b6e-4f8a-9c1d-2e3f4a5b6c7d"
DOMAIN = "contoso.onmicrosoft.com"
AUDITOR_APP = "0a1b2c3d-0000-4000-8000-00000000a0d1"
AUDITOR_APP_OBJECT = "0a1b2c3d-0000-4000-8000-00000000a0d2"
AUDITOR_SP = "0a1b2c3d-0000-4000-8000-00000000a0d3"
APP_RESTRICTED = "11111111-aaaa-4aaa-8aaa-000000000001"  # RestrictAccess to the queue group
APP_DENY_NESTED = "11111111-aaaa-4aaa-8aaa-000000000002"  # Restrict queue group + Deny nested group
APP_NO_POLICY = "11111111-aaaa-4aaa-8aaa-000000000003"  # no policy at all
APP_INVALID_ONLY = "11111111-aaaa-4aaa-8aaa-000000000004"  # only invalid policies (distribution group, gone)
APP_USER_SCOPE = "11111111-aaaa-4aaa-8aaa-000000000005"  # RestrictAccess to one user mailbox
APP_RBAC = "22222222-bbbb-4bbb-8bbb-000000000001"
RBAC_OBJECT_ID = "22222222-bbbb-4bbb-8bbb-0000000000f1"
JUMP_USER, JUMP_PASSWORD = "CONTOSO\\svc-audit", "Jump-P@ssw0rd!"
EXCHANGE_AUDIENCE = "https://outlook.office365.com"
BULK_MAILBOXES = 1050  # above the default ResultSize of 1000


def _mailbox(name: str, address: str, rtd: str = "SharedMailbox", **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "DisplayName": name.title(),
        "PrimarySmtpAddress": address,
        "RecipientTypeDetails": rtd,
        **extra,
    }


def _group(
    name: str,
    address: str,
    members: list[str],
    rtd: str = "MailUniversalSecurityGroup",
    guid_suffix: int = 1,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "Name": name,
        "DisplayName": name,
        "PrimarySmtpAddress": address,
        "RecipientTypeDetails": rtd,
        "ExternalDirectoryObjectId": f"33333333-cccc-4ccc-8ccc-{guid_suffix:012d}",
        "Members": members,
        "ManagedBy": ["Exchange Admin", "admin@contoso.com"],
        **extra,
    }


def tenant_doc(bulk: int = BULK_MAILBOXES) -> dict[str, Any]:
    mailboxes = [
        _mailbox("support", "support@contoso.com", CustomAttribute1="support", Department="Service"),
        _mailbox("sales", "sales@contoso.com", CustomAttribute1="sales", Department="Sales"),
        _mailbox("escalations", "escalations@contoso.com", CustomAttribute1="support"),
        _mailbox("ceo", "ceo@contoso.com", "UserMailbox", Department="Board", CustomAttribute15="vip"),
        _mailbox("hr", "hr@contoso.com", "UserMailbox", Department="HR"),
        _mailbox("room1", "room1@contoso.com", "RoomMailbox"),
    ]
    mailboxes += [_mailbox(f"user{i:04d}", f"user{i:04d}@contoso.com", "UserMailbox") for i in range(bulk)]
    groups = [
        _group(
            "cctr_sec_group",
            "cctr_sec_group@contoso.com",
            ["support@contoso.com", "sales@contoso.com", "tier2@contoso.com"],
            guid_suffix=1,
        ),
        _group(
            "tier2",
            "tier2@contoso.com",
            ["escalations@contoso.com"],
            guid_suffix=2,
            MemberJoinRestriction="Open",
        ),
        _group(
            "all-staff",
            "all-staff@contoso.com",
            ["ceo@contoso.com", "hr@contoso.com"],
            "MailUniversalDistributionGroup",
            guid_suffix=3,
        ),
    ]
    policies = [
        {
            "AppId": APP_RESTRICTED,
            "PolicyScopeGroupId": "cctr_sec_group@contoso.com",
            "AccessRight": "RestrictAccess",
            "Description": "Contact center queues",
        },
        {
            "AppId": APP_DENY_NESTED,
            "PolicyScopeGroupId": "cctr_sec_group@contoso.com",
            "AccessRight": "RestrictAccess",
            "Description": "queues",
        },
        {
            "AppId": APP_DENY_NESTED,
            "PolicyScopeGroupId": "tier2@contoso.com",
            "AccessRight": "DenyAccess",
            "Description": "not tier 2",
        },
        {
            "AppId": APP_INVALID_ONLY,
            "PolicyScopeGroupId": "all-staff@contoso.com",
            "AccessRight": "RestrictAccess",
            "Description": "distribution group: invalid",
        },
        {
            "AppId": APP_INVALID_ONLY,
            "PolicyScopeGroupId": "deleted-group@contoso.com",
            "AccessRight": "RestrictAccess",
            "Description": "deleted group: invalid",
        },
        {
            "AppId": APP_USER_SCOPE,
            "PolicyScopeGroupId": "hr@contoso.com",
            "AccessRight": "RestrictAccess",
            "Description": "one user",
        },
    ]
    return {
        "tenant": {"id": TENANT_ID, "defaultDomain": DOMAIN, "displayName": "Contoso"},
        "graph": {
            # Tokens name the caller's service principal as their subject, so the auditor app needs one.
            "applications": [{"id": AUDITOR_APP_OBJECT, "appId": AUDITOR_APP, "displayName": "Auditor"}],
            "servicePrincipals": [{"id": AUDITOR_SP, "appId": AUDITOR_APP, "displayName": "Auditor"}],
        },
        "exchange": {
            "mailboxes": mailboxes,
            "distributionGroups": groups,
            "applicationAccessPolicies": policies,
            "servicePrincipals": [{"AppId": APP_RBAC, "ObjectId": RBAC_OBJECT_ID, "DisplayName": "Ticketing"}],
            "managementScopes": [
                {"Name": "Support queues", "RecipientRestrictionFilter": "CustomAttribute1 -eq 'support'"},
            ],
            "managementRoleAssignments": [
                {"Name": "ticketing-read-org", "Role": "Application Mail.Read", "App": RBAC_OBJECT_ID},
                {
                    "Name": "ticketing-rw-support",
                    "Role": "Application Mail.ReadWrite",
                    "App": RBAC_OBJECT_ID,
                    "CustomResourceScope": "Support queues",
                },
                {
                    "Name": "ticketing-send-group",
                    "Role": "Application Mail.Send",
                    "App": RBAC_OBJECT_ID,
                    "RecipientGroupScope": "cctr_sec_group@contoso.com",
                },
            ],
        },
        "emulator": {
            "clients": [{"appId": AUDITOR_APP, "secret": "auditor-secret"}],
            "jumpHost": {"username": JUMP_USER, "password": JUMP_PASSWORD},
        },
    }


@contextlib.contextmanager
def running(
    tenant: Tenant, mode: str, faults: FaultPlan | None = None, drop_pool_after: int | None = None
) -> Iterator[tuple[EmulatorServer, ExchangeService]]:
    with EmulatorServer(tenant, faults) as server:
        yield server, attach(server, mode, drop_pool_after=drop_pool_after)


def wsman(server: EmulatorServer, password: str = JUMP_PASSWORD, **kwargs: Any) -> WSMan:
    port = urlsplit(server.base_url).port
    return WSMan(
        "127.0.0.1",
        port=port,
        path="wsman",
        ssl=True,
        auth="basic",
        username=JUMP_USER,
        password=password,
        cert_validation=server.ca_path,
        no_proxy=True,
        **kwargs,
    )


def exchange_token(
    server: EmulatorServer,
    app_id: str = AUDITOR_APP,
    audience: str = EXCHANGE_AUDIENCE,
    roles: tuple[str, ...] = ("Exchange.ManageAsApp",),
    tenant_id: str = TENANT_ID,
) -> str:
    return server.tokens.issue(app_id, audience, list(roles), tenant_id)


def connect(pool: RunspacePool, token: str, organization: str = DOMAIN) -> PowerShell:
    ps = PowerShell(pool)
    ps.add_cmdlet("Connect-ExchangeOnline").add_parameter("AccessToken", token)
    ps.add_parameter("Organization", organization).add_parameter("ShowBanner", False)
    ps.invoke()
    return ps


@contextlib.contextmanager
def exchange_pool(server: EmulatorServer, mode: str, **wsman_kwargs: Any) -> Iterator[RunspacePool]:
    """An open pool where Exchange cmdlets work (connected once in jump-host mode)."""
    configuration = "Microsoft.PowerShell" if mode == "jump-host" else "Microsoft.Exchange"
    with wsman(server, **wsman_kwargs) as conn, RunspacePool(conn, configuration_name=configuration) as pool:
        if mode == "jump-host":
            ps = connect(pool, exchange_token(server))
            assert ps.state == 4 and not ps.streams.error, [str(e) for e in ps.streams.error]
        yield pool


def run(pool: RunspacePool, cmdlet: str, *positional: Any, **parameters: Any) -> PowerShell:
    ps = PowerShell(pool)
    ps.add_cmdlet(cmdlet)
    for value in positional:
        ps.add_argument(value)
    for name, value in parameters.items():
        ps.add_parameter(name, value)
    ps.invoke()
    return ps


def props(obj: Any) -> dict[str, Any]:
    """Adapted and extended properties of a pypsrp output object, as the collector reads them."""
    return {**obj.adapted_properties, **obj.extended_properties}


def demo_cmdlet_records() -> list[Record]:
    """What every emulated cmdlet answers on the bundled demo tenant (the fast paths are checked against it)."""
    tenant = load_tenant(DEMO_TENANT)
    cmdlets = ExchangeCmdlets(tenant.id, tenant.doc, tenant.now)
    app = "e7e4dbfc-046f-4074-9b3b-2ae8f144f59b"
    calls = [("Get-Mailbox", [("ResultSize", "Unlimited")]), ("Get-EXOMailbox", [("ResultSize", "Unlimited")]),
             ("Get-Recipient", [("ResultSize", "Unlimited")]), ("Get-DistributionGroup", [("ResultSize", "Unlimited")]),
             ("Get-DistributionGroupMember", [("Identity", "tickets_group@contoso.com")]),
             ("Get-ApplicationAccessPolicy", []), ("Get-ServicePrincipal", []), ("Get-ManagementScope", []),
             ("Get-ManagementRoleAssignment", [("RoleAssigneeType", "ServicePrincipal")]),
             ("Test-ApplicationAccessPolicy", [("Identity", "support@contoso.com"), ("AppId", app)]),
             ("Test-ServicePrincipalAuthorization", [("Identity", "cccccccc-0000-4000-8000-000000000003"),
                                                     ("Resource", str(derive_guid(tenant.id, "archive@contoso.com")))])]
    return [r for name, parameters in calls for r in cmdlets.invoke(name, parameters).records]
