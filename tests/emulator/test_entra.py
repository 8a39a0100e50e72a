"""Entra discovery and the token endpoint, driven by the real msal over HTTPS."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jwt
import msal
import pytest
import requests

from auditor.emulator.ca import generate_certificates
from auditor.emulator.server import EmulatorServer

from .conftest import (
    AUDITOR,
    CERTAPP,
    DOMAIN,
    EXCHANGE_SCOPE,
    EXPIRED,
    GRAPH_SCOPE,
    NOSP,
    SECRETS,
    TENANT_ID,
    CASession,
    ClientCert,
    make_cert,
    msal_app,
    sp_id,
)


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_discovery_document(server: EmulatorServer, session: CASession) -> None:
    for ref in (TENANT_ID, DOMAIN):
        doc = session.get(f"{server.base_url}/{ref}/v2.0/.well-known/openid-configuration").json()
        assert doc["issuer"] == f"{server.base_url}/{TENANT_ID}/v2.0"
        assert doc["token_endpoint"] == f"{server.authority}/oauth2/v2.0/token"
        assert doc["authorization_endpoint"].startswith(server.authority)


def test_token_with_secret_carries_audience_and_roles(server: EmulatorServer, session: CASession) -> None:
    app = msal_app(server, session, AUDITOR, SECRETS[AUDITOR])
    result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert result["token_type"] == "Bearer"
    claims = _claims(result["access_token"])
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["appid"] == AUDITOR and claims["tid"] == TENANT_ID and claims["oid"] == sp_id(AUDITOR)
    assert set(claims["roles"]) == {"Application.Read.All", "Directory.Read.All", "User.Read.All"}
    assert claims["exp"] - claims["iat"] == 3600
    exo = app.acquire_token_for_client(scopes=[EXCHANGE_SCOPE])
    exo_claims = _claims(exo["access_token"])
    assert exo_claims["aud"] == "https://outlook.office365.com" and exo_claims["roles"] == ["Exchange.ManageAsApp"]
    verified = server.tokens.verify(exo["access_token"])
    assert verified is not None and verified.roles == {"Exchange.ManageAsApp"}
    assert verified.app_id == AUDITOR and verified.audience == "https://outlook.office365.com"
    assert server.tokens.verify(exo["access_token"] + "x") is None
    assert server.tokens.verify("not.a.jwt") is None


@pytest.mark.parametrize("form", ["thumbprint", "public_certificate"])
def test_token_with_certificate(server: EmulatorServer, session: CASession, client_cert: ClientCert, form: str) -> None:
    credential: dict[str, str] = {"private_key": client_cert.key_pem}
    if form == "thumbprint":
        credential["thumbprint"] = client_cert.sha1  # RS256 with x5t
    else:
        credential["public_certificate"] = client_cert.cert_pem  # PS256 with x5t#S256
    result = msal_app(server, session, CERTAPP, credential).acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in result, result
    assert _claims(result["access_token"])["roles"] == ["Application.Read.All"]


@pytest.mark.parametrize("form", ["thumbprint", "public_certificate"])
def test_certificate_signed_by_another_key_is_refused(
    server: EmulatorServer, session: CASession, client_cert: ClientCert, form: str
) -> None:
    other = make_cert("intruder")
    # Same certificate header as the registered one, but signed with a different key.
    credential = {"private_key": other.key_pem}
    if form == "thumbprint":
        credential["thumbprint"] = client_cert.sha1
    else:
        credential["public_certificate"] = client_cert.cert_pem
    result = msal_app(server, session, CERTAPP, credential).acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert result["error"] == "invalid_client" and result["error_codes"] == [700027]
    unknown = msal_app(server, session, CERTAPP, {"private_key": other.key_pem, "thumbprint": other.sha1})
    result = unknown.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert result["error_codes"] == [700027] and "The key was not found" in result["error_description"]


@pytest.mark.parametrize(
    ("client_id", "secret", "scope", "code", "error"),
    [
        (AUDITOR, "wrong", GRAPH_SCOPE, 7000215, "invalid_client"),
        (EXPIRED, SECRETS[EXPIRED], GRAPH_SCOPE, 7000222, "invalid_client"),
        (EXPIRED, "wrong", GRAPH_SCOPE, 7000215, "invalid_client"),
        (NOSP, SECRETS[NOSP], GRAPH_SCOPE, 700016, "unauthorized_client"),
        ("99999999-0000-0000-0000-000000000000", "x", GRAPH_SCOPE, 700016, "unauthorized_client"),
        (AUDITOR, SECRETS[AUDITOR], "https://management.azure.com/.default", 70011, "invalid_scope"),
        (AUDITOR, SECRETS[AUDITOR], "https://graph.microsoft.com/Mail.Read", 70011, "invalid_scope"),
    ],
)
def test_aadsts_errors_reach_msal(
    server: EmulatorServer, session: CASession, client_id: str, secret: str, scope: str, code: int, error: str
) -> None:
    result = msal_app(server, session, client_id, secret).acquire_token_for_client(scopes=[scope])
    assert "access_token" not in result
    assert result["error"] == error
    assert result["error_codes"] == [code]
    assert result["error_description"].startswith(f"AADSTS{code}: ")
    for field in ("timestamp", "trace_id", "correlation_id", "error_uri"):
        assert result[field]


def test_bad_secret_description_and_status(server: EmulatorServer, session: CASession) -> None:
    response = session.post(
        f"{server.authority}/oauth2/v2.0/token",
        data={"client_id": AUDITOR, "client_secret": "nope", "grant_type": "client_credentials", "scope": GRAPH_SCOPE},
        headers={"client-request-id": "corr-1"},
    )
    assert response.status_code == 401
    body = response.json()
    assert body["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert body["correlation_id"] == "corr-1"


def test_unknown_tenant_is_90002(server: EmulatorServer, session: CASession) -> None:
    bogus = "99999999-9999-9999-9999-999999999999"
    response = session.post(
        f"{server.base_url}/{bogus}/oauth2/v2.0/token",
        data={"client_id": AUDITOR, "client_secret": SECRETS[AUDITOR], "grant_type": "client_credentials"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request" and body["error_codes"] == [90002]
    assert body["error_description"].startswith(f"AADSTS90002: Tenant '{bogus}' not found.")
    # As with Entra, discovery for an unknown tenant already fails (400, invalid_tenant, AADSTS90002),
    # so msal raises ValueError from its constructor instead of returning an error dict.
    discovery = session.get(f"{server.base_url}/{bogus}/v2.0/.well-known/openid-configuration")
    assert discovery.status_code == 400
    assert discovery.json()["error"] == "invalid_tenant" and discovery.json()["error_codes"] == [90002]
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal_app_for(f"{server.base_url}/{bogus}", session)


def msal_app_for(authority: str, session: CASession) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        AUDITOR,
        client_credential=SECRETS[AUDITOR],
        authority=authority,
        http_client=session,
        instance_discovery=False,
    )


def test_token_by_domain_authority(server: EmulatorServer, session: CASession) -> None:
    app = msal_app_for(f"{server.base_url}/{DOMAIN}", session)
    assert "access_token" in app.acquire_token_for_client(scopes=[GRAPH_SCOPE])


def test_requests_ca_bundle_pitfall(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A valid bundle that does not contain the emulator's CA: if the environment won, TLS would fail.
    bogus = generate_certificates(tmp_path / "other")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus.ca_path))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bogus.ca_path))
    naive = requests.Session()
    naive.verify = server.ca_path  # loses to the environment variable
    with pytest.raises(requests.exceptions.SSLError):
        naive.get(f"{server.authority}/v2.0/.well-known/openid-configuration", timeout=5)
    with CASession(server.ca_path) as session:
        result = msal_app(server, session, AUDITOR, SECRETS[AUDITOR]).acquire_token_for_client(scopes=[GRAPH_SCOPE])
        assert "access_token" in result


def test_malformed_assertion(server: EmulatorServer, session: CASession) -> None:
    response = session.post(
        f"{server.authority}/oauth2/v2.0/token",
        data={
            "client_id": CERTAPP,
            "grant_type": "client_credentials",
            "scope": GRAPH_SCOPE,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": base64.b64encode(json.dumps({"a": 1}).encode()).decode(),
        },
    )
    assert response.status_code == 400 and response.json()["error_codes"] == [50027]
