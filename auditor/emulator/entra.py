"""The emulated Entra ID endpoints: OpenID discovery and the v2.0 client-credentials token endpoint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, unquote

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from auditor.emulator.builtin import AUDIENCE_APP_IDS
from auditor.emulator.faults import FaultPlan, RequestCounters
from auditor.emulator.replies import Reply, json_reply
from auditor.emulator.tenant import Tenant
from auditor.emulator.tokens import TokenIssuer
from auditor.emulator.validation import parse_date

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_PATH = re.compile(r"^/(?P<tenant>[^/]+)/(?P<rest>v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token)$")

# AADSTS code -> (OAuth error, HTTP status, description template), as Entra answers them.
AADSTS: dict[int, tuple[str, int, str]] = {
    7000215: (
        "invalid_client",
        401,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
        "value, not the client secret ID, for a secret added to app '{app}'.",
    ),
    7000222: (
        "invalid_client",
        401,
        "The provided client secret keys for app '{app}' are expired. Visit the Azure portal to create new "
        "keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for "
        "added security: https://aka.ms/certCreds.",
    ),
    700016: (
        "unauthorized_client",
        400,
        "Application with identifier '{app}' was not found in the directory '{tenant}'. This can happen if "
        "the application has not been installed by the administrator of the tenant or consented to by any "
        "user in the tenant. You may have sent your authentication request to the wrong tenant.",
    ),
    700027: ("invalid_client", 401, "Client assertion contains an invalid signature. [Reason - {detail}]"),
    700024: ("invalid_client", 401, "Client assertion is not within its valid time range."),
    700021: (
        "invalid_client",
        401,
        "Client assertion application identifier doesn't match 'client_id' parameter.",
    ),
    50027: ("invalid_request", 400, "JWT token is invalid or malformed."),
    90002: (
        "invalid_request",
        400,
        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into "
        "the correct cloud. Check with your subscription administrator, this may happen if there are no "
        "active subscriptions for the tenant.",
    ),
    70011: (
        "invalid_scope",
        400,
        "The provided request must include a 'scope' input parameter. The provided value for the input "
        "parameter 'scope' is not valid. The scope {detail} is not valid.",
    ),
    70003: ("unsupported_grant_type", 400, "The app requested an unsupported grant type '{detail}'."),
    900144: ("invalid_request", 400, "The request body must contain the following parameter: '{detail}'."),
    7000218: (
        "invalid_client",
        401,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ),
    7000112: ("unauthorized_client", 400, "Application '{app}'({detail}) is disabled."),
}


class _Denied(Exception):
    def __init__(self, code: int, app: str = "", detail: str = "") -> None:
        super().__init__(code)
        self.code, self.app, self.detail = code, app, detail


def _thumbprint(cert: x509.Certificate, algorithm: str) -> str:
    digest = hashlib.new(algorithm, cert.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class EntraApi:
    """Discovery and token endpoints for one tenant."""

    def __init__(
        self, tenant: Tenant, tokens: TokenIssuer, counters: RequestCounters, plan: FaultPlan, base_url: str
    ) -> None:
        self.tenant = tenant
        self.tokens = tokens
        self.counters = counters
        self.plan = plan
        self.base_url = base_url
        self._certs = {
            app_id: x509.load_pem_x509_certificate(client["certificate"].encode())
            for app_id, client in tenant.clients_by_app_id.items()
            if client.get("certificate")
        }
        self.assertion_headers: list[dict[str, object]] = []  # JOSE headers of the client assertions received

    @staticmethod
    def matches(path: str) -> bool:
        return bool(_PATH.match(unquote(path.partition("?")[0])))

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        match = _PATH.match(unquote(target.partition("?")[0]))
        assert match is not None
        tenant_ref, rest = match["tenant"], match["rest"]
        is_token = rest.startswith("oauth2")
        self.counters.count(f"{method} /{{tenant}}/{rest}")
        correlation = headers.get("client-request-id") or str(uuid.uuid4())
        if (is_token and method != "POST") or (not is_token and method != "GET"):
            return json_reply(405, {"error": "invalid_request", "error_description": "Method not allowed."})
        if not is_token:
            if not self.tenant.matches(tenant_ref):
                return self._error(90002, correlation, tenant=tenant_ref, oauth_error="invalid_tenant")
            return json_reply(200, self.discovery())
        try:
            if not self.tenant.matches(tenant_ref):
                raise _Denied(90002, detail=tenant_ref)
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            if self.plan.token_error is not None:
                raise _Denied(self.plan.token_error, form.get("client_id", ""))
            return self._token(form, tenant_ref)
        except _Denied as exc:
            return self._error(exc.code, correlation, app=exc.app, detail=exc.detail, tenant=tenant_ref)

    def discovery(self) -> dict[str, object]:
        tid, base = self.tenant.id, self.base_url
        return {
            "token_endpoint": f"{base}/{tid}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/{tid}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{tid}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/{tid}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "oid", "roles"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "msgraph_host": "graph.microsoft.com",
        }

    def _token(self, form: dict[str, str], tenant_ref: str) -> Reply:
        grant = form.get("grant_type")
        if not grant:
            raise _Denied(900144, detail="grant_type")
        if grant != "client_credentials":
            raise _Denied(70003, detail=grant)
        app_id = form.get("client_id", "")
        if not app_id:
            raise _Denied(900144, detail="client_id")
        client = self.tenant.clients_by_app_id.get(app_id.lower())
        sp = self.tenant.service_principals_by_app_id.get(app_id.lower())
        if client is None or sp is None:
            raise _Denied(700016, app_id)
        if not sp["accountEnabled"]:
            raise _Denied(7000112, app_id, sp["displayName"])
        audience = self._audience(form.get("scope"), app_id)
        if "client_secret" in form:
            self._check_secret(client, form["client_secret"], app_id)
        elif "client_assertion" in form:
            self._check_assertion(form, app_id, tenant_ref)
        else:
            raise _Denied(7000218, app_id)
        roles = self.tenant.roles_for(app_id, audience)
        token = self.tokens.issue(app_id, audience, roles, self.tenant.id)
        lifetime = self.tokens.lifetime_s - 1
        payload = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        return json_reply(200, payload, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})

    @staticmethod
    def _audience(scope: str | None, app_id: str) -> str:
        if not scope:
            raise _Denied(900144, app_id, "scope")
        scopes = scope.split()
        resource = scopes[0][: -len("/.default")] if scopes[0].endswith("/.default") else None
        by_app_id = {v: k for k, v in AUDIENCE_APP_IDS.items()}
        if len(scopes) != 1 or resource is None:
            raise _Denied(70011, app_id, scope)
        if resource.rstrip("/") in AUDIENCE_APP_IDS:
            return resource.rstrip("/")
        if resource.lower() in by_app_id:
            return by_app_id[resource.lower()]
        raise _Denied(70011, app_id, scope)

    def _check_secret(self, client: dict[str, object], secret: str, app_id: str) -> None:
        expected = client.get("secret")
        if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), secret.encode()):
            raise _Denied(7000215, app_id)
        expires = client.get("secretExpires")
        if isinstance(expires, str):
            moment = parse_date(expires)
            if moment is not None and moment <= self.tenant.clock():
                raise _Denied(7000222, app_id)

    def _check_assertion(self, form: dict[str, str], app_id: str, tenant_ref: str) -> None:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise _Denied(900144, app_id, "client_assertion_type")
        assertion = form["client_assertion"]
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise _Denied(50027, app_id) from None
        self.assertion_headers.append(dict(header))
        cert = self._certs.get(app_id.lower())
        algorithm = header.get("alg")
        # msal signs RS256 with an x5t (SHA-1) header when given a thumbprint, PS256 with x5t#S256 otherwise.
        if "x5t#S256" in header:
            presented, actual = header["x5t#S256"], cert and _thumbprint(cert, "sha256")
        else:
            presented, actual = header.get("x5t"), cert and _thumbprint(cert, "sha1")
        if isinstance(presented, str):
            presented = presented.rstrip("=")  # msal pads its base64url thumbprints; RFC 7515 does not
        if cert is None or not presented or presented != actual:
            raise _Denied(700027, app_id, f"The key was not found., Thumbprint of key used by client: '{presented}'")
        if algorithm not in ("RS256", "PS256"):
            raise _Denied(700027, app_id, f"Unsupported algorithm '{algorithm}'")
        audiences = [f"{self.base_url}/{ref}/oauth2/v2.0/token" for ref in {self.tenant.id, tenant_ref}]
        try:
            claims = jwt.decode(
                assertion,
                cert.public_key(),  # type: ignore[arg-type]
                algorithms=[algorithm],
                audience=audiences,
                issuer=app_id,
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.InvalidSignatureError:
            raise _Denied(700027, app_id, "The signature does not verify with the registered certificate.") from None
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
            raise _Denied(700024, app_id) from None
        except jwt.InvalidAudienceError:
            raise _Denied(700027, app_id, "The audience is not this token endpoint.") from None
        except jwt.InvalidIssuerError:
            raise _Denied(700021, app_id) from None
        except jwt.PyJWTError:
            raise _Denied(50027, app_id) from None
        if claims.get("sub") != app_id:
            raise _Denied(700021, app_id)

    def _error(
        self,
        code: int,
        correlation: str,
        *,
        app: str = "",
        detail: str = "",
        tenant: str = "",
        oauth_error: str | None = None,
    ) -> Reply:
        error, status, template = AADSTS.get(code, ("invalid_request", 400, "Emulated failure."))
        directory = self.tenant.display_name if self.tenant.matches(tenant) else tenant
        message = template.format(app=app, detail=detail, tenant=directory)
        trace = str(uuid.uuid4())
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        description = f"AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {stamp}"
        payload = {
            "error": oauth_error or error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"{self.base_url}/error?code={code}",
        }
        return json_reply(400 if oauth_error else status, payload)
