"""Built-in first-party resource service principals (Microsoft Graph, Office 365 Exchange Online).

Every real tenant holds these service principals; their object ids differ per tenant, their
appRole ids do not. The emulator derives the object ids from the tenant id so they are stable
across runs of the same tenant file.
"""

from __future__ import annotations

import uuid
from typing import Any

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
# appOwnerOrganizationId of Microsoft's first-party apps.
MICROSOFT_TENANT_ID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"

GRAPH_AUDIENCE = "https://graph.microsoft.com"
EXCHANGE_AUDIENCE = "https://outlook.office365.com"
# Exchange Online's resource URI in the sovereign clouds (docs/microsoft-facts.md, "Exchange Online session").
SOVEREIGN_EXCHANGE_AUDIENCES = ("https://outlook.office365.us", "https://outlook-dod.office365.us",
                                "https://webmail.apps.mil", "https://partner.outlook.cn", "https://outlook.office.de")
# Token audience (resource URI) -> the resource's appId; the worldwide URI last, so that inverting the map
# (a scope given as the Exchange appId) gives the worldwide audience.
AUDIENCE_APP_IDS = {GRAPH_AUDIENCE: GRAPH_APP_ID, **dict.fromkeys(SOVEREIGN_EXCHANGE_AUDIENCES, EXCHANGE_APP_ID),
                    EXCHANGE_AUDIENCE: EXCHANGE_APP_ID}

_NAMESPACE = uuid.UUID("6f1d3c52-6a2e-4d0b-9a57-2f3a3c1e9b10")

# Microsoft Graph application permissions: value -> (appRole id, displayName).
# Ids from Microsoft's permissions reference (microsoft-facts.md A2); stable across tenants.
GRAPH_APP_ROLES: dict[str, tuple[str, str]] = {
    "Mail.Read": ("810c84a8-4a9e-49e6-bf7d-12d183f40d01", "Read mail in all mailboxes"),
    "Mail.ReadBasic": ("6be147d2-ea4f-4b5a-a3fa-3eab6f3c140a", "Read basic mail in all mailboxes"),
    "Mail.ReadBasic.All": ("693c5e45-0940-467d-9b8a-1022fb9d42ef", "Read basic mail in all mailboxes"),
    "Mail.ReadWrite": ("e2a3a72e-5f79-4c64-b1b1-878b674786c9", "Read and write mail in all mailboxes"),
    "Mail.Send": ("b633e1c5-b582-4048-a93e-9f11b44c7e96", "Send mail as any user"),
    "MailboxSettings.Read": ("40f97065-369a-49f4-947c-6a255697ae91", "Read all user mailbox settings"),
    "MailboxSettings.ReadWrite": (
        "6931bccd-447a-43d1-b442-00a195474933",
        "Read and write all user mailbox settings",
    ),
    "Calendars.Read": ("798ee544-9d2d-430c-a058-570e29e34338", "Read calendars in all mailboxes"),
    "Calendars.ReadWrite": (
        "ef54d2bf-783f-4e0f-bca1-3210c0444d99",
        "Read and write calendars in all mailboxes",
    ),
    "Contacts.Read": ("089fe4d0-434a-44c5-8827-41ba8a0b17f5", "Read contacts in all mailboxes"),
    "Contacts.ReadWrite": (
        "6918b873-d17a-4dc1-b314-35f528134491",
        "Read and write contacts in all mailboxes",
    ),
    "Application.Read.All": ("9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", "Read all applications"),
    "Application.ReadWrite.All": ("1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9", "Read and write all applications"),
    "Application.ReadWrite.OwnedBy": (
        "18a4783c-866b-4cc7-a460-3d5e5662c884",
        "Manage apps that this app creates or owns",
    ),
    "AppRoleAssignment.ReadWrite.All": (
        "06b708a9-e830-4db3-a914-8e69da51d44f",
        "Manage app permission grants and app role assignments",
    ),
    "Directory.Read.All": ("7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Read directory data"),
    "Directory.ReadWrite.All": ("19dbc75e-c2e2-444c-a770-ec69d8559fc7", "Read and write directory data"),
    "GroupMember.Read.All": ("98830695-27a2-44f7-8c18-0c3ebc9698f6", "Read all group memberships"),
    "GroupMember.ReadWrite.All": (
        "dbaae8cf-10b5-4b86-a4a1-f871c94c6695",
        "Read and write all group memberships",
    ),
    "Group.Read.All": ("5b567255-7703-4780-807c-7be8301ae99b", "Read all groups"),
    "Group.ReadWrite.All": ("62a82d76-70ea-41e2-9197-370581804d09", "Read and write all groups"),
    "User.Read.All": ("df021288-bdef-4463-88db-98f22de89214", "Read all users' full profiles"),
    "User.ReadWrite.All": ("741f803b-c850-494e-b5df-cde7c675a1ca", "Read and write all users' full profiles"),
    "RoleManagement.Read.Directory": (
        "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
        "Read all directory RBAC settings",
    ),
    "RoleManagement.Read.All": (
        "c7fbd983-d9aa-4fa7-84b8-17382c103bc4",
        "Read role management data for all RBAC providers",
    ),
    "RoleManagement.ReadWrite.Directory": (
        "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
        "Read and write all directory RBAC settings",
    ),
    # Id from graphpermissions.merill.net (third-party evidence only).
    "RoleManagement.ReadWrite.Exchange": (
        "025d3225-3f02-4882-b4c0-cd5b541a4e80",
        "Read and write Exchange Online RBAC configuration",
    ),
    "DelegatedPermissionGrant.ReadWrite.All": (
        "8e8e4742-1d95-4f68-9d56-6ee75648c72a",
        "Manage all delegated permission grants",
    ),
    "Policy.ReadWrite.PermissionGrant": (
        "a402ca1c-2696-4531-972d-6e5ee4aa11ea",
        "Manage consent and permission grant policies",
    ),
    "Policy.ReadWrite.ConditionalAccess": (
        "01c0a623-fc9b-48e9-b794-0756f8e8f067",
        "Read and write your organization's conditional access policies",
    ),
    "UserAuthenticationMethod.ReadWrite.All": (
        "50483e42-d915-4231-9639-7fdb7fd190e5",
        "Read and write all users' authentication methods",
    ),
    "Files.ReadWrite.All": (
        "75359482-378d-4052-8f01-80520e7db3cd",
        "Read and write files in all site collections",
    ),
    "Sites.FullControl.All": (
        "a82116e5-55eb-4c41-a434-62fe8a61c773",
        "Have full control of all site collections",
    ),
    "Organization.Read.All": ("498476ce-e0fe-48b0-b801-37ba7e2685c6", "Read organization information"),
}

# Office 365 Exchange Online application permissions.
EXCHANGE_APP_ROLES: dict[str, tuple[str, str]] = {
    "Exchange.ManageAsApp": ("dc50a0fb-09a3-484d-be87-e023b12c6440", "Manage Exchange As Application"),
    # EWS: every mailbox in the organisation.
    "full_access_as_app": (
        "dc890d15-9560-4a4c-9b7f-a736ec74ec40",
        "Use Exchange Web Services with full access to all mailboxes",
    ),
    # Legacy Outlook REST roles on the Exchange resource. The GUIDs below are EMULATOR-ONLY,
    # made up for this project: the real ids were not verified. Checks resolve names through
    # appRoles at runtime, so nothing depends on these values.
    "Mail.Read": ("b9ad1188-fea9-4219-9000-8c38012bdba3", "Read mail in all mailboxes"),
    "Mail.ReadWrite": ("f2f94cad-d170-46e5-9450-04d3d145736c", "Read and write mail in all mailboxes"),
    "Mail.Send": ("8268486d-4ea0-4599-bd32-bf88ed64b9d8", "Send mail as any user"),
    "Calendars.Read": ("629bec86-d34b-483f-9c54-63183f076cdb", "Read calendars in all mailboxes"),
    "Calendars.ReadWrite": (
        "7d67cb3c-8b79-43d5-b943-431e9dfceee3",
        "Read and write calendars in all mailboxes",
    ),
    "Contacts.Read": ("2b7f2686-6a2d-4302-9c31-491b327d8807", "Read contacts in all mailboxes"),
    "Contacts.ReadWrite": (
        "ed7de97c-7d3d-4701-964e-de49e6e5b7f0",
        "Read and write contacts in all mailboxes",
    ),
}

# A few delegated scopes on Microsoft Graph (ids confirmed in Microsoft's reference).
GRAPH_SCOPES: dict[str, tuple[str, str]] = {
    "User.Read": ("e1fe6dd8-ba31-4d61-89e7-88639da4683d", "Sign in and read user profile"),
    "Mail.Read": ("570282fd-fa5c-430d-a7fd-fc8dc98a9dca", "Read user mail"),
}


def _app_roles(table: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "allowedMemberTypes": ["Application"],
            "description": f"Allows the app to {name[0].lower()}{name[1:]} without a signed-in user.",
            "displayName": name,
            "id": role_id,
            "isEnabled": True,
            "origin": "Application",
            "value": value,
        }
        for value, (role_id, name) in table.items()
    ]


def _scopes(table: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "adminConsentDescription": f"Allows the app to {name[0].lower()}{name[1:]}.",
            "adminConsentDisplayName": name,
            "id": scope_id,
            "isEnabled": True,
            "type": "User",
            "userConsentDescription": None,
            "userConsentDisplayName": None,
            "value": value,
        }
        for value, (scope_id, name) in table.items()
    ]


def builtin_object_id(tenant_id: str, app_id: str) -> str:
    """Deterministic object id of a built-in service principal in this tenant."""
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id.lower()}/{app_id}"))


def builtin_service_principals(tenant_id: str) -> list[dict[str, Any]]:
    """The Graph and Exchange resource service principals as Graph returns them."""
    specs = [
        (GRAPH_APP_ID, "Microsoft Graph", GRAPH_APP_ROLES, GRAPH_SCOPES, ["https://graph.microsoft.com"]),
        (
            EXCHANGE_APP_ID,
            "Office 365 Exchange Online",
            EXCHANGE_APP_ROLES,
            {},
            ["https://outlook.office365.com", "https://outlook.office.com"],
        ),
    ]
    return [
        {
            "id": builtin_object_id(tenant_id, app_id),
            "appId": app_id,
            "displayName": name,
            "accountEnabled": True,
            "appOwnerOrganizationId": MICROSOFT_TENANT_ID,
            "servicePrincipalType": "Application",
            "servicePrincipalNames": [app_id, *names],
            "tags": [],
            "appRoles": _app_roles(roles),
            "oauth2PermissionScopes": _scopes(scopes),
            "passwordCredentials": [],
            "keyCredentials": [],
            "owners": [],
        }
        for app_id, name, roles, scopes, names in specs
    ]
