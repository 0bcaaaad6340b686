"""User tokens: Fernet (AES-128-CBC + HMAC-SHA256, timestamped) from ``cryptography``.

The token carries the sign-in session id; expiry is Fernet's own TTL check and revocation is
the session row. Keys come from every keyring version, newest first, so a key rotation keeps
issued tokens valid until they expire.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from backend.core.errors import Unauthenticated
from privacy.keyring import Keyring

_PURPOSE = "user-token"


@dataclass(frozen=True)
class TokenClaims:
    session_id: uuid.UUID
    user_id: uuid.UUID


class TokenCodec:
    def __init__(self, keyring: Keyring, ttl_seconds: int) -> None:
        keys = [Fernet(base64.urlsafe_b64encode(k)) for k in keyring.derive_all(_PURPOSE)]
        self._fernet = MultiFernet(keys)
        self.ttl_seconds = ttl_seconds

    def issue(self, claims: TokenClaims) -> str:
        body = json.dumps({"s": str(claims.session_id), "u": str(claims.user_id)}).encode()
        return self._fernet.encrypt(body).decode()

    def read(self, token: str) -> TokenClaims:
        try:
            body = self._fernet.decrypt(token.encode(), ttl=self.ttl_seconds)
            data = json.loads(body)
            return TokenClaims(uuid.UUID(data["s"]), uuid.UUID(data["u"]))
        except (InvalidToken, ValueError, KeyError, TypeError):
            raise Unauthenticated("the token is invalid or has expired") from None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
