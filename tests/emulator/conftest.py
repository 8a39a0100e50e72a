"""Fixtures for the Entra + Graph emulator tests: a small tenant built in code, one server per module."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from auditor.emulator.builtin import EXCHANGE_APP_ID, GRAPH_APP_ID
from auditor.emulator.faults import FaultPlan
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import load_tenant

TENANT_ID = "11111111-2222-3333-4444-555555555555"
DOMAIN = "contoso.onmicrosoft.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"


def guid(prefix: str, n: int) -> str:
    """A readable GUID: prefix (1-8 hex digits) and a counter."""
    return f"{prefix:0<8}-0000-0000-0000-{n:012d}"


AUDITOR = guid("a", 1)  # reads everything it needs
NOROLE = guid("a", 2)  # token works, no Graph roles
EXPIRED = guid("a", 3)  # secret expired yesterday
NOSP = guid("a", 4)  # client without a service principal
CERTAPP = guid("a", 5)  # certificate credential
CONTACT_CENTER = guid("c", 1)  # the audited integration
VENDOR = guid("d", 1)  # a multi-tenant app: SP only

SECRETS = {AUDITOR: "auditor-secret", NOROLE: "norole-secret", EXPIRED: "old-secret", NOSP: "nosp-secret"}


def sp_id(app_id: str) -> str:
    return "5" + app_id[0] + app_id[2:]


def app_object_id(app_id: str) -> str:
    return "e" + app_id[0] + app_id[2:]


USER_IDS = {name: guid("b", i) for i, name in enumerate(["support", "sales", "ceo", "owner", "guest"], 1)}
GROUP_ID, NESTED_ID = guid("f", 1), guid("f", 2)


@dataclass(frozen=True)
class ClientCert:
    key_pem: str
    cert_pem: str
    sha1: str


def make_cert(common_name: str = "auditor") -> ClientCert:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return ClientCert(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        cert.public_bytes(serialization.Encoding.PEM).decode(),
        cert.fingerprint(hashes.SHA1()).hex().upper(),
    )


def _sp(app_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": sp_id(app_id), "appId": app_id, "displayName": name, **extra}


def _app(app_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": app_object_id(app_id), "appId": app_id, "displayName": name, **extra}


def _grant(n: int, principal: str, resource: str, role: str) -> dict[str, Any]:
    return {"id": f"assignment-{n}", "principalId": principal, "resourceId": resource, "appRoleId": role}


def build_tenant(cert: ClientCert, *, extra_sps: int = 0) -> dict[str, Any]:
    """A small tenant: one integration, an auditor with read roles, and some broken clients."""
    users = [
        {
            "id": USER_IDS[name],
            "displayName": name.title(),
            "userPrincipalName": f"{name}@contoso.com",
            "mail": f"{name}@contoso.com",
            "accountEnabled": name not in ("support", "sales"),
            "userType": "Guest" if name == "guest" else "Member",
        }
        for name in USER_IDS
    ]
    sps = [
        _sp(AUDITOR, "Auditor"),
        _sp(NOROLE, "No roles"),
        _sp(EXPIRED, "Expired"),
        _sp(CERTAPP, "Cert app"),
        _sp(CONTACT_CENTER, "Contact Center", owners=[USER_IDS["owner"]]),
        _sp(VENDOR, "Vendor", appOwnerOrganizationId=guid("9", 9)),
    ] + [_sp(guid("7", i), f"Filler {i:03d}", appOwnerOrganizationId=guid("9", 9)) for i in range(extra_sps)]
    return {
        "tenant": {"id": TENANT_ID, "defaultDomain": DOMAIN, "displayName": "Contoso"},
        "graph": {
            "applications": [
                _app(AUDITOR, "Auditor"),
                _app(NOROLE, "No roles"),
                _app(EXPIRED, "Expired"),
                _app(CERTAPP, "Cert app"),
                _app(
                    CONTACT_CENTER,
                    "Contact Center",
                    owners=[USER_IDS["owner"], sp_id(AUDITOR)],
                    requiredResourceAccess=[
                        {
                            "resourceAppId": GRAPH_APP_ID,
                            "resourceAccess": [
                                {"id": "Mail.ReadWrite", "type": "Role"},
                                {"id": "b633e1c5-b582-4048-a93e-9f11b44c7e96", "type": "Role"},
                            ],
                        }
                    ],
                    passwordCredentials=[
                        {"keyId": guid("6", 1), "startDateTime": "now-40d", "endDateTime": "now+90d", "hint": "abc"}
                    ],
                    keyCredentials=[
                        {"keyId": guid("6", 2), "startDateTime": "now-1d", "endDateTime": "now+6h", "key": "QUJD"}
                    ],
                ),
            ],
            "servicePrincipals": sps,
            "appRoleAssignments": [
                _grant(1, sp_id(AUDITOR), GRAPH_APP_ID, "Application.Read.All"),
                _grant(2, AUDITOR, GRAPH_APP_ID, "Directory.Read.All"),  # delegated grants need it
                _grant(3, AUDITOR, GRAPH_APP_ID, "df021288-bdef-4463-88db-98f22de89214"),  # User.Read.All
                _grant(4, AUDITOR, EXCHANGE_APP_ID, "Exchange.ManageAsApp"),
                _grant(5, CONTACT_CENTER, GRAPH_APP_ID, "Mail.ReadWrite"),
                _grant(6, CONTACT_CENTER, GRAPH_APP_ID, "Mail.Send"),
                _grant(7, CERTAPP, GRAPH_APP_ID, "Application.Read.All"),
                _grant(8, VENDOR, EXCHANGE_APP_ID, "full_access_as_app"),
            ],
            "oauth2PermissionGrants": [
                {
                    "id": "grant-1",
                    "clientId": CONTACT_CENTER,
                    "consentType": "AllPrincipals",
                    "resourceId": GRAPH_APP_ID,
                    "scope": "User.Read",
                }
            ],
            "users": users,
        },
        "exchange": {
            "mailboxes": [
                {
                    "Name": name,
                    "PrimarySmtpAddress": f"{name}@contoso.com",
                    "RecipientTypeDetails": "SharedMailbox" if name in ("support", "sales") else "UserMailbox",
                    "ExternalDirectoryObjectId": USER_IDS[name],
                }
                for name in ("support", "sales", "ceo")
            ],
            "distributionGroups": [
                {
                    "Name": "cctr",
                    "PrimarySmtpAddress": "cctr_sec_group@contoso.com",
                    "RecipientTypeDetails": "MailUniversalSecurityGroup",
                    "ExternalDirectoryObjectId": GROUP_ID,
                    "Members": ["Support@contoso.com", "nested@contoso.com"],
                    "ManagedBy": ["owner"],
                },
                {
                    "Name": "nested",
                    "PrimarySmtpAddress": "nested@contoso.com",
                    "RecipientTypeDetails": "MailUniversalDistributionGroup",
                    "ExternalDirectoryObjectId": NESTED_ID,
                    "Members": ["sales@contoso.com", "cctr_sec_group@contoso.com"],
                },
            ],
            "applicationAccessPolicies": [
                {
                    "AppId": CONTACT_CENTER,
                    "PolicyScopeGroupId": "cctr_sec_group@contoso.com",
                    "AccessRight": "RestrictAccess",
                }
            ],
            "servicePrincipals": [{"AppId": VENDOR, "ObjectId": sp_id(VENDOR), "DisplayName": "Vendor"}],
            "managementScopes": [{"Name": "support", "RecipientRestrictionFilter": "CustomAttribute1 -eq 'x'"}],
            "managementRoleAssignments": [
                {
                    "Name": "vendor-mail",
                    "Role": "Application Mail.Read",
                    "App": sp_id(VENDOR),
                    "CustomResourceScope": "support",
                }
            ],
        },
        "emulator": {
            "clients": [
                {"appId": AUDITOR, "secret": SECRETS[AUDITOR]},
                {"appId": NOROLE, "secret": SECRETS[NOROLE]},
                {"appId": EXPIRED, "secret": SECRETS[EXPIRED], "secretExpires": "now-1d"},
                {"appId": NOSP, "secret": SECRETS[NOSP]},
                {"appId": CERTAPP, "certificate": cert.cert_pem, "privateKey": cert.key_pem},
            ],
            "jumpHost": {"username": "svc-audit", "password": "jump-pass"},
        },
    }


class CASession(requests.Session):
    """A Session that verifies against the emulator's CA on every request.

    A session-level ``verify`` loses to REQUESTS_CA_BUNDLE; a per-request one wins.
    """

    def __init__(self, ca_path: str) -> None:
        super().__init__()
        self.ca_path = ca_path

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("verify") is None:
            kwargs["verify"] = self.ca_path
        kwargs.setdefault("timeout", 10)
        return super().request(method, url, *args, **kwargs)


def msal_app(server: EmulatorServer, session: requests.Session, client_id: str, credential: Any) -> Any:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=server.authority,
        http_client=session,
        instance_discovery=False,
    )


def token_for(
    server: EmulatorServer, session: requests.Session, client_id: str = AUDITOR, scope: str = GRAPH_SCOPE
) -> str:
    result = msal_app(server, session, client_id, SECRETS[client_id]).acquire_token_for_client(scopes=[scope])
    assert "access_token" in result, result
    return str(result["access_token"])


@pytest.fixture(scope="session")
def client_cert() -> ClientCert:
    return make_cert()


@pytest.fixture(scope="session")
def tenant_doc(client_cert: ClientCert) -> dict[str, Any]:
    return build_tenant(client_cert, extra_sps=23)


@pytest.fixture(scope="module")
def server(tenant_doc: dict[str, Any]) -> Iterator[EmulatorServer]:
    with EmulatorServer(load_tenant(copy.deepcopy(tenant_doc))) as srv:
        yield srv


@pytest.fixture
def session(server: EmulatorServer) -> Iterator[CASession]:
    with CASession(server.ca_path) as sess:
        yield sess


@pytest.fixture(scope="module")
def graph_headers(server: EmulatorServer) -> dict[str, str]:
    with CASession(server.ca_path) as sess:
        return {"Authorization": f"Bearer {token_for(server, sess)}"}


def start_faulty(tenant_doc: dict[str, Any], spec: str) -> EmulatorServer:
    return EmulatorServer(load_tenant(copy.deepcopy(tenant_doc)), FaultPlan.parse(spec)).start()
