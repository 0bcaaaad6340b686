"""A forgotten password: a mailed link with a one-time, expiring token, then a new password.

How the token is one-time without a table of its own
----------------------------------------------------

The token is ``<key version>.<user id | expiry | nonce>.<MAC>``: an HMAC-SHA256, under a key
derived from the keyring for this purpose alone, over the key version, the user id, the expiry,
a random nonce (two links asked for in one second differ) and a *fingerprint of the account's
current password hash*. The fingerprint is not in the token; the
server recomputes it from the stored hash when the token comes back. So:

- **Used once.** Setting the new password stores a new hash (scrypt with a fresh salt, so even
  the same password hashes differently); every token issued before it, this one included,
  then carries a MAC over a fingerprint that no longer exists and is refused. A change of
  password by any other way (``changePassword``, an administrator) kills them too.
- **Expiring.** The expiry (one hour) is inside the MAC, so it cannot be stretched.
- **Unforgeable.** Without the keyring's key nobody can make a MAC for another user id or
  expiry; rotating the keyring keeps tokens of the previous key valid until they expire, as
  the sign-in tokens do.
- **Two uses racing** read the same old hash; the second to write re-reads the row under a
  lock (PostgreSQL ``FOR UPDATE``; SQLite serialises writers and refuses a write based on a
  stale read) and finds the hash changed, so only one succeeds.

What a table would add is revoking one link without changing the password, which nobody needs:
a newer link does not kill an older one, but both die as soon as either is used.

No account enumeration
----------------------

``requestPasswordReset`` answers ``true`` for every address, known or not, malformed or not,
after the same work: the request is counted against its own throttle (per address and per
client, like sign-in's, and as strict for an address without an account), and only then,
detached from the request, is the account looked up and the mail written. Whether an account
exists therefore changes neither the answer nor its timing; the mail goes only to the address
itself, like an invitation's.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth import passwords
from backend.auth.links import portal_for_account, portal_link
from backend.auth.mail_outbox import enqueue_mail
from backend.auth.models import AuthSession, Membership, User
from backend.auth.service import check_password_strength, find_user, normalise_email
from backend.auth.throttle import UNKNOWN_ADDRESS, Policy, Throttle, address_subject
from backend.core.db import retry_lost_race, utcnow
from backend.core.errors import BadInput, NotFound, RateLimited
from privacy.audit import Actor, record
from privacy.keyring import Keyring
from tenants.scope import unscoped_session

log = logging.getLogger("anjian.auth")

RESET_TTL = timedelta(hours=1)
_PURPOSE = "password-reset"
_PAYLOAD_BYTES = 32  # user id 16, expiry (epoch seconds) 8, nonce 8
_GONE = "the reset link is invalid, was used, or has expired; ask for a new one"

# Per e-mail address (and per address and client): three mails at once, then one more every
# ten minutes at most, locks growing from a minute to an hour. A person who lost a mail asks
# again a few times; someone flooding a mailbox gets a mail every few minutes at worst.
RESET_ACCOUNT = Policy(free=3, leak_seconds=600, base_seconds=60, cap_seconds=3600)
# Per client address, across addresses: an office behind one NAT address has many people.
RESET_CLIENT = Policy(free=30, leak_seconds=60, base_seconds=1, cap_seconds=900)


def reset_throttle(clock: Callable[[], datetime] = utcnow) -> Throttle:
    return Throttle(pair=RESET_ACCOUNT, account=RESET_ACCOUNT, address=RESET_CLIENT, clock=clock)


# --- the token ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fingerprint(password_hash: str | None) -> bytes:
    return hashlib.sha256(f"anjian/{_PURPOSE}/{password_hash or ''}".encode()).digest()


def _mac(key: bytes, version: int, payload: bytes, password_hash: str | None) -> bytes:
    message = version.to_bytes(4, "big") + payload + _fingerprint(password_hash)
    return hmac.new(key, message, hashlib.sha256).digest()


def issue_token(keyring: Keyring, user: User, now: datetime) -> tuple[str, datetime]:
    """A reset token for ``user`` as its password stands now, and when it expires."""
    version = keyring.current.version
    expires = now + RESET_TTL
    payload = user.id.bytes + int(expires.timestamp()).to_bytes(8, "big") + secrets.token_bytes(8)
    mac = _mac(keyring.derive(_PURPOSE, version), version, payload, user.password_hash)
    return f"{version}.{_b64(payload)}.{_b64(mac)}", expires


@dataclass(frozen=True)
class _Claims:
    version: int
    user_id: uuid.UUID
    expires: datetime
    payload: bytes
    mac: bytes


def _read(token: str) -> _Claims:
    try:
        version_text, payload_text, mac_text = token.strip().split(".")
        version, payload, mac = int(version_text), _unb64(payload_text), _unb64(mac_text)
    except ValueError:
        raise NotFound(_GONE) from None
    if len(payload) != _PAYLOAD_BYTES or len(mac) != 32:
        raise NotFound(_GONE)
    expires = datetime.fromtimestamp(int.from_bytes(payload[16:24], "big"), UTC)
    return _Claims(version, uuid.UUID(bytes=payload[:16]), expires, payload, mac)


def _valid(keyring: Keyring, claims: _Claims, user: User | None, now: datetime) -> bool:
    if (
        user is None
        or user.disabled
        or user.password_hash is None
        or not keyring.has(claims.version)
    ):
        return False
    expected = _mac(
        keyring.derive(_PURPOSE, claims.version), claims.version, claims.payload, user.password_hash
    )
    return hmac.compare_digest(expected, claims.mac) and claims.expires > now


# --- asking for a link -------------------------------------------------------------------------


def _mail_body(link: str, token: str, expires: datetime) -> str:
    until = expires.strftime("%Y-%m-%d %H:%M")
    return (
        "有人（希望是您本人）请求重置您的安监平台账户密码。请打开下面的链接设置新密码：\n"
        f"{link}\n链接只能使用一次，有效期至 {until}（UTC）。"
        "如果不是您本人的请求，请忽略本邮件，您的密码不会改变。\n\n"
        "Someone (we hope you) asked to reset the password of your Anjian account. Open this "
        f"link to choose a new password:\n{link}\n"
        f"The link works once and until {until} (UTC). If it was not you, ignore this mail; "
        "your password stays as it is.\n\n"
        f"重置令牌 / Reset token: {token}\n"
    )


async def _mail_link_in_own_transaction(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    public_url: str,
    subject: str,
    now: datetime,
) -> bool:
    """Mail a link to the account of ``subject``, if it has one that can sign in; audited
    either way. True when a mail was queued. The link is on ``public_url`` and opens the
    reset page of the portal the account signs in to (``backend.auth.links``)."""
    async with unscoped_session(sessions) as session, session.begin():
        user = await find_user(session=session, email=subject)
        usable = user is not None and not user.disabled and user.password_hash is not None
        await record(
            session,
            Actor("anonymous"),
            "auth.password_reset_requested",
            object_type="user",
            object_id=None if user is None else user.id,
            detail={"mailed": usable},
        )
        if not usable:
            return False
        assert user is not None
        token, expires = issue_token(keyring, user, now)
        domains = await session.scalars(
            select(Membership.domain).where(Membership.user_id == user.id)
        )
        portal = portal_for_account(domains.all())
        link = portal_link(public_url, portal, "reset-password", token)
        await enqueue_mail(
            session=session,
            to=user.email,
            subject="安监平台密码重置 / Anjian password reset",
            body=_mail_body(link, token, expires),
            idempotency_key=f"password-reset:{user.id}:{token.rsplit('.', 1)[1][:22]}",
        )
    return True


# Detached work still running: kept so the event loop does not collect a task mid-way.
_detached: set[asyncio.Task[None]] = set()


def _detach(work: Awaitable[None]) -> None:
    async def run() -> None:
        try:
            await work
        except Exception:
            log.exception("password reset mail failed; the requester may ask again")

    # A fresh context: this is not the request's work, and nothing of the request's context
    # (its statement counters, its timing) follows it.
    task = asyncio.get_running_loop().create_task(run(), context=contextvars.Context())
    _detached.add(task)
    task.add_done_callback(_detached.discard)


async def unscoped_request_password_reset(
    *,
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    public_url: str,
    throttle: Throttle,
    email: str,
    client_address: str | None,
    send_mail: Callable[[], Awaitable[None]],
) -> None:
    """Count the request, then mail a reset link to the address's account, if any, after the
    answer (see the module docstring). ``RateLimited`` over the throttle, for any address;
    ``send_mail`` hands queued mail to the broker. The mailed link is on ``public_url`` (the
    configured ANJIAN_PUBLIC_URL), whatever the request's headers say."""
    try:
        subject = normalise_email(email)
    except BadInput:
        subject = email.strip().lower()[:254]  # throttled like any address, never an account
    where = f"reset:{address_subject(client_address or UNKNOWN_ADDRESS)}"

    async def count() -> None:
        async with unscoped_session(sessions) as session, session.begin():
            try:
                await throttle.admit(session, email=f"reset:{subject}", address=where)
            except RateLimited as exc:
                seconds = exc.retry_after_seconds
                raise RateLimited(
                    f"重置请求过多，请 {seconds} 秒后再试 / too many reset requests; "
                    f"try again in {seconds} seconds",
                    retry_after_seconds=seconds,
                ) from None
            await throttle.purge(session)

    # Two first requests for one subject at once collide on its new throttle row: counted again.
    await retry_lost_race(count, conflicts=(IntegrityError,))
    now = throttle.now()

    async def mail() -> None:
        if await _mail_link_in_own_transaction(sessions, keyring, public_url, subject, now):
            await send_mail()

    _detach(mail())


# --- using it ----------------------------------------------------------------------------------


async def _revoke_all_sessions(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> int:
    result = await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def unscoped_reset_password_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    token: str,
    password: str,
    log2_n: int,
    now: datetime | None = None,
) -> None:
    """Set the password of the token's account and end every one of its sessions. A token
    that is malformed, forged, expired or already used (the password changed since it was
    issued) is ``NotFound``; a weak password is ``BadInput`` and leaves the token usable."""
    now = now or utcnow()
    claims = _read(token)
    async with unscoped_session(sessions) as session:
        user = await session.get(User, claims.user_id)
        if not _valid(keyring, claims, user, now):
            raise NotFound(_GONE)
        assert user is not None
        check_password_strength(password, user.email)
    # Hashing takes tens of milliseconds: outside the transaction that holds the row.
    new_hash = passwords.hash_password(password, log2_n)
    async with unscoped_session(sessions) as session, session.begin():
        user = await session.get(User, claims.user_id, with_for_update=True, populate_existing=True)
        if not _valid(keyring, claims, user, now):
            raise NotFound(_GONE)  # used meanwhile: the fingerprint changed
        assert user is not None
        user.password_hash = new_hash
        revoked = await _revoke_all_sessions(session, user.id, now)
        await record(
            session,
            Actor("user", str(user.id)),
            "auth.password_reset",
            object_type="user",
            object_id=user.id,
            detail={"sessions_revoked": revoked},
        )
