"""Access tokens issued by the emulated Entra token endpoint (HS256 with a per-server key)."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

TOKEN_LIFETIME_S = 3600


def lifetime_for(doc: Mapping[str, Any]) -> int:
    """The tenant file's `emulator.tokenLifetimeSeconds` (validated), else an hour as Entra's default."""
    value = (doc.get("emulator") or {}).get("tokenLifetimeSeconds")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else TOKEN_LIFETIME_S


@dataclass(frozen=True)
class TokenClaims:
    """What a resource server needs from a verified token."""

    app_id: str
    audience: str
    roles: frozenset[str]
    tenant_id: str
    expires: datetime
    object_id: str | None = None


class TokenIssuer:
    """Signs and verifies app-only access tokens.

    Real Entra signs with RS256 keys published at jwks_uri; the resource servers here live in the
    same process, so a random symmetric key is enough and keeps tokens unforgeable from outside.
    """

    def __init__(
        self,
        issuer: str = "https://127.0.0.1/emulator/v2.0",
        object_id_for: Callable[[str], str | None] | None = None,
        lifetime_s: int = TOKEN_LIFETIME_S,
        key: bytes | None = None,
    ) -> None:
        self.issuer = issuer
        self.lifetime_s = lifetime_s
        self._object_id_for = object_id_for or (lambda _app_id: None)
        self._key = key or secrets.token_bytes(32)

    def verification_key(self) -> bytes:
        """The signing key, for a stand-in process (the emulator's `pwsh`) that verifies this issuer's tokens;
        it travels in a private file, never with a token."""
        return self._key

    def issue(self, app_id: str, audience: str, roles: Iterable[str], tenant_id: str,
              lifetime_s: int | None = None) -> str:
        """`lifetime_s` overrides the issuer's lifetime for one token (tests: a token that has already expired)."""
        now = int(time.time())
        object_id = self._object_id_for(app_id)
        claims = {
            "aud": audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + (self.lifetime_s if lifetime_s is None else lifetime_s),
            "appid": app_id,
            "appidacr": "1",
            "idtyp": "app",
            "oid": object_id,
            "roles": sorted(set(roles)),
            "sub": object_id or app_id,  # PyJWT rejects a null subject
            "tid": tenant_id,
            "uti": uuid.uuid4().hex,
            "ver": "1.0",
        }
        return jwt.encode(claims, self._key, algorithm="HS256", headers={"typ": "JWT"})

    def verify(self, token: str) -> TokenClaims | None:
        """Claims of a token this issuer signed and that has not expired; None otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "aud", "appid", "tid"]},
            )
            roles = claims.get("roles", [])
            if not isinstance(roles, list):
                return None
            return TokenClaims(
                app_id=str(claims["appid"]),
                audience=str(claims["aud"]),
                roles=frozenset(str(r) for r in roles),
                tenant_id=str(claims["tid"]),
                expires=datetime.fromtimestamp(int(claims["exp"]), UTC),
                object_id=claims.get("oid"),
            )
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            return None
