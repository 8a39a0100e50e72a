"""Issue 12: a $batch envelope answered 424 still carries its items; the certificate sign-in uses SHA-256."""

from __future__ import annotations

import datetime as dt

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from auditor.collect.auth import Credentials, credentials_from_environment
from auditor.collect.http import RetryPolicy, VerifyingSession
from auditor.collect.run import collect
from auditor.emulator.faults import FaultPlan
from auditor.models.baseline import AuthConfig
from tests.collect_graph.conftest import emulated, graph_only, mutated
from tests.make_demo_tenant import AUDITOR


def test_a_424_envelope_with_throttled_items_is_recovered_with_identical_evidence(clean_snapshot):
    plan = FaultPlan(seed=5, throttle_every=3, retry_after_s=0, batch_failed_dependency=True)
    with emulated(faults=plan) as (server, base, settings):
        settings.retry = RetryPolicy(max_attempts=8, base_backoff_s=0.01)
        snapshot = collect(base, settings)
        envelopes_424 = server._graph.failed_dependency_envelopes
    assert envelopes_424 > 0  # the emulator did answer 424 for envelopes holding a throttled item
    assert graph_only(snapshot) == graph_only(clean_snapshot)


def test_batch_failed_dependency_is_a_fault_plan_key():
    assert FaultPlan.parse("throttle_every=4,batch_failed_dependency=1").batch_failed_dependency is True
    assert FaultPlan().batch_failed_dependency is False


def _certificate() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auditor")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def test_certificate_sign_in_sends_the_sha256_form(tenant_file, tmp_path):
    key_pem, cert_pem = _certificate()
    pem = tmp_path / "auditor.pem"
    pem.write_text(key_pem + cert_pem, encoding="utf-8")
    credentials = credentials_from_environment(AuthConfig(client_id=AUDITOR, certificate=str(pem)), "test.toml", {})
    assert "thumbprint" not in credentials.msal_credential()

    def use_certificate(doc):
        doc["emulator"]["clients"] = [{"appId": AUDITOR, "certificate": cert_pem, "privateKey": key_pem}]

    with emulated(tenant_file(mutated(use_certificate))) as (server, base, settings):
        settings.credentials = credentials
        snapshot = collect(base, settings)
        headers = list(server._entra.assertion_headers)
    assert snapshot.collection.get("sign_in_error") is None
    assert headers and all(h["alg"] == "PS256" and "x5t#S256" in h and "x5t" not in h for h in headers)
    expected = jwt.utils.base64url_encode(
        x509.load_pem_x509_certificate(cert_pem.encode()).fingerprint(hashes.SHA256())).decode()
    assert {str(h["x5t#S256"]).rstrip("=") for h in headers} == {expected}


def test_a_sha1_thumbprint_assertion_is_still_verified_by_the_emulator(tenant_file):
    """Entra accepts both forms; the emulator verifies both (RS256/x5t and PS256/x5t#S256)."""
    import msal
    key_pem, cert_pem = _certificate()

    def use_certificate(doc):
        doc["emulator"]["clients"] = [{"appId": AUDITOR, "certificate": cert_pem, "privateKey": key_pem}]

    with emulated(tenant_file(mutated(use_certificate))) as (server, _, _settings):
        sha1 = x509.load_pem_x509_certificate(cert_pem.encode()).fingerprint(hashes.SHA1()).hex().upper()
        app = msal.ConfidentialClientApplication(
            AUDITOR, client_credential={"private_key": key_pem, "thumbprint": sha1}, authority=server.authority,
            http_client=VerifyingSession(server.ca_path), instance_discovery=False)
        result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert "access_token" in result
    assert server._entra.assertion_headers[-1]["alg"] == "RS256"


def test_credentials_hold_no_sha1_thumbprint():
    key_pem, cert_pem = _certificate()
    credential = Credentials(AUDITOR, private_key_pem=key_pem, certificate_pem=cert_pem).msal_credential()
    assert credential == {"private_key": key_pem, "public_certificate": cert_pem}
