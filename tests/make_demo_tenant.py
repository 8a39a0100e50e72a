"""Builds samples/tenants/demo.json, the emulator's demo tenant. Run `python -m tests.make_demo_tenant`;
tests/test_demo_tenant.py fails while the committed file is stale.

Contoso runs the classic setup for its Contact Center (compliant), and a handful of apps that drifted.
Dates are relative to the emulator's clock (`now+90d`), so the verdicts do not change with the calendar.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

TENANT_ID = "11111111-2222-3333-4444-555555555555"
DOMAIN = "contoso.onmicrosoft.com"
MICROSOFT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
VENDOR_TENANT = "99999999-0000-4000-8000-000000000099"
GRAPH = "00000003-0000-0000-c000-000000000000"
EXO = "00000002-0000-0ff1-ce00-000000000000"

AUDITOR = "a0d17000-0000-4000-8000-000000000001"
CONTACT_CENTER = "e7e4dbfc-046f-4074-9b3b-2ae8f144f59b"
TICKETING = "bbbbbbbb-0000-4000-8000-000000000002"
ARCHIVER = "cccccccc-0000-4000-8000-000000000003"
FAX = "dddddddd-0000-4000-8000-000000000004"
SURVEY = "eeeeeeee-0000-4000-8000-000000000005"
GOVERNANCE = "ffffffff-0000-4000-8000-000000000010"
PROVISIONING = "ffffffff-0000-4000-8000-000000000011"
REPORTING = "ffffffff-0000-4000-8000-000000000012"
BACKUP = "ffffffff-0000-4000-8000-000000000013"
MS_APP = "ffffffff-0000-4000-8000-000000000014"

DEMO = Path(__file__).resolve().parent.parent / "samples" / "tenants" / "demo.json"


def oid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "contoso-demo/" + "/".join(parts)))


def user(name: str, enabled: bool = True, user_type: str = "Member", display: str | None = None) -> dict[str, Any]:
    address = name if "@" in name else f"{name}@contoso.com"
    return {"id": oid("user", address), "displayName": display or address.split("@")[0].replace("-", " ").title(),
            "userPrincipalName": address, "mail": address, "accountEnabled": enabled, "userType": user_type}


def mailbox(name: str, kind: str, **extra: Any) -> dict[str, Any]:
    address = f"{name}@contoso.com"
    return {"Name": name, "DisplayName": name.replace("-", " ").title(), "Alias": name,
            "PrimarySmtpAddress": address, "RecipientTypeDetails": kind,
            "ExternalDirectoryObjectId": oid("user", address), **extra}


def secret(key: str, start: str, end: str, name: str) -> dict[str, Any]:
    return {"keyId": oid("cred", key), "displayName": name, "startDateTime": start, "endDateTime": end,
            "hint": name[:3]}


def cert(key: str, start: str, end: str, name: str) -> dict[str, Any]:
    return {"keyId": oid("cert", key), "displayName": name, "startDateTime": start, "endDateTime": end,
            "type": "AsymmetricX509Cert", "usage": "Verify"}


def app(app_id: str, name: str, roles: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    rra: dict[str, list[dict[str, str]]] = {}
    for resource, role in roles:
        rra.setdefault(resource, []).append({"id": role, "type": "Role"})
    return {"id": oid("app", app_id), "appId": app_id, "displayName": name,
            "requiredResourceAccess": [{"resourceAppId": r, "resourceAccess": a} for r, a in rra.items()],
            "passwordCredentials": [], "keyCredentials": [], "owners": [], **extra}


def sp(app_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": oid("sp", app_id), "appId": app_id, "displayName": name, "accountEnabled": True,
            "passwordCredentials": [], "keyCredentials": [], **extra}


def grants(app_id: str, roles: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"id": oid("assignment", app_id, resource, role), "principalId": oid("sp", app_id),
             "principalType": "ServicePrincipal", "resourceId": resource, "appRoleId": role,
             "createdDateTime": "now-200d"} for resource, role in roles]


def build() -> dict[str, Any]:
    staff = [f"staff{n:02d}" for n in range(1, 13)]
    people = ["ceo", "cfo", "alice", "bob", "exchange-admin", "owner", *staff]
    queues = ["support", "sales", "helpdesk", "billing", "archive", "survey"]
    users = [user(p) for p in people]
    users += [user(q, enabled=(q == "billing")) for q in queues]  # billing's account was never blocked
    users += [user("hr-queue", enabled=False), user("room-a", enabled=False),
              user("partner_fabrikam.com#EXT#@contoso.onmicrosoft.com", user_type="Guest", display="Partner")]

    # The README's permission set, and nothing more: Directory.Read.All covers every Graph read the collector makes.
    auditor_roles = [(GRAPH, "Directory.Read.All"), (EXO, "Exchange.ManageAsApp")]
    cc_roles = [(GRAPH, "Mail.ReadWrite"), (GRAPH, "Mail.Send")]
    owner_id, guest_id = oid("user", "owner@contoso.com"), users[-1]["id"]
    applications = [
        app(AUDITOR, "Mailbox Access Auditor", auditor_roles,
            passwordCredentials=[secret("auditor", "now-10d", "now+170d", "auditor run")]),
        app(CONTACT_CENTER, "Contact Center", cc_roles, owners=[owner_id],
            keyCredentials=[cert("cc", "now-30d", "now+300d", "CN=contact-center")]),
        app(TICKETING, "Ticketing", [(GRAPH, "Mail.ReadWrite"), (GRAPH, "Mail.Read"),
                                     (GRAPH, "Application.ReadWrite.All")],
            owners=[owner_id, guest_id, oid("sp", REPORTING)],
            passwordCredentials=[secret("tk-2y", "now-700d", "now+20d", "two-year secret"),
                                 secret("tk-old", "now-400d", "now-35d", "old secret")]),
        app(FAX, "Old Fax Gateway", [(GRAPH, "Mail.Send")],
            passwordCredentials=[secret("fax", "now-60d", "now+300d", "fax")]),
        app(SURVEY, "Survey Tool", [(GRAPH, "Mail.Read")],
            passwordCredentials=[secret("survey", "now-400d", "now-10d", "survey")]),
        app(GOVERNANCE, "Identity Governance", [(GRAPH, "RoleManagement.ReadWrite.Directory")],
            keyCredentials=[cert("gov", "now-10d", "now+20d", "CN=governance")]),
        app(PROVISIONING, "HR Provisioning", [(GRAPH, "Directory.ReadWrite.All"), (GRAPH, "User.Read.All")],
            keyCredentials=[cert("hr", "now-30d", "now+300d", "CN=hr")]),
        app(REPORTING, "Mail Reporting", [(GRAPH, "Mail.Read")],
            keyCredentials=[cert("rep", "now-30d", "now+300d", "CN=reporting")]),
        app(BACKUP, "Legacy Backup", [(EXO, "full_access_as_app")],
            keyCredentials=[cert("bak", "now-30d", "now+300d", "CN=backup")]),
    ]
    service_principals = [
        sp(AUDITOR, "Mailbox Access Auditor"), sp(CONTACT_CENTER, "Contact Center"),
        sp(TICKETING, "Ticketing", passwordCredentials=[secret("sp-backdoor", "now-5d", "now+360d", "")]),
        sp(ARCHIVER, "Archiver (Fabrikam)", appOwnerOrganizationId=VENDOR_TENANT),
        sp(SURVEY, "Survey Tool"), sp(GOVERNANCE, "Identity Governance"), sp(PROVISIONING, "HR Provisioning"),
        sp(REPORTING, "Mail Reporting"), sp(BACKUP, "Legacy Backup"),
        sp(MS_APP, "Microsoft first-party service", appOwnerOrganizationId=MICROSOFT),
    ]
    assignments = (grants(AUDITOR, auditor_roles) + grants(CONTACT_CENTER, cc_roles)
                   + grants(TICKETING, [(GRAPH, "Mail.ReadWrite"), (GRAPH, "Mail.Read"),
                                        (GRAPH, "Files.ReadWrite.All")])
                   + grants(SURVEY, [(GRAPH, "Mail.Read")])
                   + grants(GOVERNANCE, [(GRAPH, "RoleManagement.ReadWrite.Directory")])
                   + grants(PROVISIONING, [(GRAPH, "Directory.ReadWrite.All"), (GRAPH, "User.Read.All")])
                   + grants(REPORTING, [(GRAPH, "Mail.Read")]) + grants(BACKUP, [(EXO, "full_access_as_app")])
                   + grants(MS_APP, [(GRAPH, "Mail.Read")]))

    mailboxes = [mailbox(q, "SharedMailbox") for q in ("support", "sales", "helpdesk", "billing", "survey")]
    mailboxes += [mailbox("archive", "SharedMailbox", CustomAttribute1="archive"),
                  mailbox("hr-queue", "UserMailbox"), mailbox("room-a", "RoomMailbox")]
    mailboxes += [mailbox(p, "UserMailbox", Department="Executive" if p in ("ceo", "cfo") else "Staff")
                  for p in people]

    def group(name: str, kind: str, members: list[str], **extra: Any) -> dict[str, Any]:
        return {"Name": name, "DisplayName": name, "PrimarySmtpAddress": f"{name}@contoso.com",
                "RecipientTypeDetails": kind, "ExternalDirectoryObjectId": oid("group", name),
                "ManagedBy": extra.pop("ManagedBy", []), "MemberJoinRestriction": extra.pop("join", "Closed"),
                "Members": [f"{m}@contoso.com" for m in members], **extra}

    groups = [
        group("cctr_sec_group", "MailUniversalSecurityGroup", ["support", "sales"], ManagedBy=["exchange-admin"]),
        group("tickets_group", "MailUniversalDistributionGroup", ["helpdesk", "cfo", "finance_team"],
              ManagedBy=["bob"], join="Open"),
        group("finance_team", "MailUniversalSecurityGroup", ["hr-queue", "alice"]),
        group("billing_block", "MailUniversalSecurityGroup", ["billing"]),
        group("survey_group", "MailUniversalSecurityGroup", ["survey"]),
    ]

    def policy(app_id: str, scope: str, right: str = "RestrictAccess", why: str = "") -> dict[str, Any]:
        return {"AppId": app_id, "PolicyScopeGroupId": f"{scope}@contoso.com", "AccessRight": right,
                "Description": why}

    policies = [
        policy(CONTACT_CENTER, "cctr_sec_group", why="Contact Center queues only"),
        policy(TICKETING, "tickets_group", why="Ticketing queues (a distribution group: the policy is invalid)"),
        policy(TICKETING, "billing_block", "DenyAccess", "someone blocked billing"),
        policy(SURVEY, "survey_group", why="Survey queue"),
        policy(BACKUP, "cctr_sec_group", why="Backup limited to the Contact Center queues"),
    ]
    exchange_sps = [{"AppId": ARCHIVER, "ObjectId": oid("sp", ARCHIVER), "DisplayName": "Archiver (Fabrikam)"},
                    {"AppId": TICKETING, "ObjectId": oid("sp", TICKETING), "DisplayName": "Ticketing"}]
    return {
        "tenant": {"id": TENANT_ID, "defaultDomain": DOMAIN, "displayName": "Contoso"},
        "graph": {
            "applications": applications,
            "servicePrincipals": service_principals,
            "appRoleAssignments": assignments,
            "oauth2PermissionGrants": [
                {"id": oid("grant", TICKETING), "clientId": oid("sp", TICKETING), "consentType": "AllPrincipals",
                 "principalId": None, "resourceId": GRAPH, "scope": "openid User.Read Mail.Read"},
                {"id": oid("grant", CONTACT_CENTER), "clientId": oid("sp", CONTACT_CENTER),
                 "consentType": "AllPrincipals", "principalId": None, "resourceId": GRAPH, "scope": "User.Read"},
            ],
            "users": users,
        },
        "exchange": {
            "mailboxes": mailboxes,
            "distributionGroups": groups,
            "applicationAccessPolicies": policies,
            "servicePrincipals": exchange_sps,
            "managementScopes": [{"Name": "Archive mailboxes",
                                  "RecipientRestrictionFilter": "CustomAttribute1 -eq 'archive'"}],
            "managementRoleAssignments": [
                {"Name": "Archiver-MailRead", "Role": "Application Mail.Read", "App": oid("sp", ARCHIVER),
                 "CustomResourceScope": "Archive mailboxes"},
                {"Name": "Ticketing-MailRead-Org", "Role": "Application Mail.Read", "App": oid("sp", TICKETING)},
            ],
        },
        "emulator": {
            "clients": [{"appId": AUDITOR, "secret": "demo-only-auditor-secret-4c1e9"}],
            "jumpHost": {"username": "CONTOSO\\svc-audit", "password": "demo-only-jump-password-7d2a"},
        },
    }


def main() -> None:
    DEMO.parent.mkdir(parents=True, exist_ok=True)
    DEMO.write_text(json.dumps(build(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {DEMO}")


if __name__ == "__main__":
    main()
