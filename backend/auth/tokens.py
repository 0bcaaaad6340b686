"""User tokens: Fernet (AES-128-CBC + HMAC-SHA256, timestamped) from ``cryptography``.

The token carries the sign-in session id; expiry is Fernet's own TTL check and revocation is
the session row. A browser's token is re-issued past half its life (``past_half_life``), so a
page in use stays signed in; a session nobody uses ends after the idle timeout.

Keys come from every keyring version, newest first, so a key rotation keeps issued tokens
valid until they expire.
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
    """Issues and reads tokens, and holds the lifetimes of the sessions they name: a token is
    good for ``ttl_seconds`` from its issue, a session for ``idle_seconds`` without use unless
    its tenants chose another idle timeout."""

    def __init__(self, keyring: Keyring, ttl_seconds: int, idle_seconds: int = 30 * 60) -> None:
        keys = [Fernet(base64.urlsafe_b64encode(k)) for k in keyring.derive_all(_PURPOSE)]
        self._fernet = MultiFernet(keys)
        self.ttl_seconds = ttl_seconds
        self.idle_seconds = idle_seconds

    def issue(self, claims: TokenClaims, *, issued_at: int | None = None) -> str:
        """A token for ``claims``, stamped now or at ``issued_at`` (seconds since the epoch:
        a token of some age, for tests of expiry and renewal)."""
        body = json.dumps({"s": str(claims.session_id), "u": str(claims.user_id)}).encode()
        if issued_at is None:
            return self._fernet.encrypt(body).decode()
        return self._fernet.encrypt_at_time(body, issued_at).decode()

    def read(self, token: str) -> TokenClaims:
        try:
            body = self._fernet.decrypt(token.encode(), ttl=self.ttl_seconds)
            data = json.loads(body)
            return TokenClaims(uuid.UUID(data["s"]), uuid.UUID(data["u"]))
        except (InvalidToken, ValueError, KeyError, TypeError):
            raise Unauthenticated("the token is invalid or has expired") from None

    def past_half_life(self, token: str, now: float) -> bool:
        """Whether a token read good was issued more than half its lifetime before ``now``
        (seconds since the epoch)."""
        try:
            issued = self._fernet.extract_timestamp(token.encode())
        except InvalidToken:
            return False
        return now - issued > self.ttl_seconds / 2


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
