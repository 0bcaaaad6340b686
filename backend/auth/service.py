"""Sign-in, tokens, users and memberships: the only writers of auth tables.

Invitations live in ``backend.auth.invitations`` and member removal and account disabling in
``backend.auth.members``; both build on the helpers here.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth import passwords
from backend.auth.authz import (
    Authorizer,
    bump_version,
    domain_kind,
    roles_for_domain,
)
from backend.auth.mail_outbox import enqueue_mail
from backend.auth.models import AuthSession, Membership, User
from backend.auth.principal import Grant, Principal
from backend.auth.throttle import UNKNOWN_ADDRESS, Attempt, Throttle
from backend.auth.tokens import TokenClaims, TokenCodec
from backend.core.db import retry_lost_race, utcnow
from backend.core.errors import BadInput, Conflict, Unauthenticated
from privacy.audit import Actor, record
from tenants.divisions import covers
from tenants.scope import Scope, unscoped_jurisdiction_tenants, unscoped_session

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
SIGN_IN_FAILED = "wrong e-mail or password"
_DEFAULT_THROTTLE = Throttle()


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise BadInput(f"not an e-mail address: {email!r}")
    return value


def check_password_strength(password: str, email: str | None = None) -> None:
    """The password policy (NIST SP 800-63B; see ``backend.auth.passwords``)."""
    passwords.check_password(password, email=email)


def check_role(domain: str, role: str) -> None:
    allowed = roles_for_domain(domain)
    if role not in allowed:
        raise BadInput(
            f"role {role!r} does not exist in a {domain_kind(domain)} domain; "
            f"choose one of {', '.join(allowed) or 'none'}"
        )


def may(authz: Authorizer, principal: Principal, domain: str, obj: str, action: str) -> bool:
    """Whether the principal's role in ``domain`` allows ``action`` on ``obj`` (Casbin decides)."""
    return authz.may(principal, domain, obj, action)


def require(
    authz: Authorizer,
    principal: Principal,
    domain: str,
    obj: str,
    action: str,
    *,
    operation: str | None = None,
) -> None:
    """The permission check of every service operation (``Authorizer.require``)."""
    authz.require(principal, domain, obj, action, operation=operation)


def domain_in_scope(scope: Scope, domain: str) -> bool:
    if domain.startswith("tenant:"):
        try:
            return uuid.UUID(domain.removeprefix("tenant:")) in scope.tenant_ids
        except ValueError:
            return False
    if domain.startswith("gov:"):
        return any(covers(j, domain.removeprefix("gov:")) for j in scope.jurisdictions)
    return False


async def find_user(
    *,
    session: AsyncSession,
    email: str,
) -> User | None:
    """The account of a normalised address, if there is one."""
    return await session.scalar(select(User).where(await User.email.matches(session, email)))


async def users_by_ids(
    *, session: AsyncSession, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, User]:
    """The accounts of ``user_ids`` in one statement (names of who did what in a list)."""
    if not user_ids:
        return {}
    rows = await session.scalars(select(User).where(User.id.in_(user_ids)))
    return {user.id: user for user in rows}


async def create_user(
    *,
    session: AsyncSession,
    email: str,
    password: str | None,
    actor: Actor,
    log2_n: int,
    display_name: str | None = None,
) -> User:
    address = normalise_email(email)
    if password is not None:
        check_password_strength(password, address)
    if await find_user(session=session, email=address) is not None:
        raise Conflict(f"a user with e-mail {address} already exists")
    user = User(
        email=address,
        display_name=display_name,
        password_hash=None if password is None else passwords.hash_password(password, log2_n),
    )
    session.add(user)
    await session.flush()
    await record(session, actor, "user.create", object_type="user", object_id=user.id)
    return user


async def grant_membership(
    *,
    session: AsyncSession,
    user: User,
    domain: str,
    role: str,
    actor: Actor,
    granted_by: uuid.UUID | None = None,
) -> Membership:
    """Give ``user`` ``role`` in ``domain`` (or change the role held there); ``granted_by`` is
    who offered it when that is not the actor (an invitation accepted by its invitee)."""
    check_role(domain, role)
    existing = await session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.domain == domain)
    )
    if existing is not None:
        if existing.role == role:
            return existing
        old = existing.role
        existing.role = role
        membership = existing
        detail = {"role": role, "previous_role": old}
    else:
        if granted_by is None and actor.kind == "user" and actor.id:
            granted_by = uuid.UUID(actor.id)
        membership = Membership(user_id=user.id, domain=domain, role=role, granted_by=granted_by)
        session.add(membership)
        detail = {"role": role}
    await bump_version(session)
    await session.flush()
    await record(
        session,
        actor,
        "membership.grant",
        domain=domain,
        object_type="user",
        object_id=user.id,
        detail=detail,
    )
    return membership


def _lock_notice(until_text: str) -> str:
    return (
        "您的安监平台账户因多次登录失败已被暂时锁定，"
        f"将于 {until_text}（UTC）解除。如果不是您本人在尝试登录，请尽快联系管理员；"
        "您的密码没有泄露，锁定期间无法用它登录。\n\n"
        "Your Anjian account was locked for a short while after repeated failed sign-in "
        f"attempts; the lock ends at {until_text} (UTC). If it was not you trying to sign in, "
        "tell your administrator. Your password was not revealed, and it cannot be used "
        "while the lock lasts.\n"
    )


async def unscoped_login_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    codec: TokenCodec,
    email: str,
    password: str,
    log2_n: int,
    client_address: str | None = None,
    throttle: Throttle | None = None,
) -> str:
    """A token for a right e-mail and password; ``Unauthenticated`` otherwise, the same answer
    and the same scrypt work whether the address is unknown, invited but not yet accepted,
    disabled, or its password wrong; ``RateLimited`` while the throttle holds the attempt."""
    throttle = throttle or _DEFAULT_THROTTLE
    address = client_address or UNKNOWN_ADDRESS
    try:
        subject = normalise_email(email)
    except BadInput:
        subject = email.strip().lower()[:254]  # throttled like any address, never an account

    # 1. Count the attempt first (a short transaction of its own), so neither parallel requests
    #    nor a lock can be raced; refused attempts never reach the password check.
    async def count() -> tuple[Attempt, uuid.UUID | None, str | None, bool, str | None]:
        async with unscoped_session(sessions) as session, session.begin():
            attempt = await throttle.admit(session, email=subject, address=address)
            user = await find_user(session=session, email=subject)
            if user is None:
                return attempt, None, None, False, None
            return attempt, user.id, user.password_hash, not user.disabled, user.email

    # A parallel first attempt may have created a throttle row a moment ago (IntegrityError):
    # counted again, the attempt counts against that row.
    counted, user_id, stored, usable, user_email = await retry_lost_race(
        count, conflicts=(IntegrityError,)
    )
    # 2. Exactly one password check's work, whatever the account (passwords.verify_password
    #    burns the same scrypt cost for a missing hash).
    verified = passwords.verify_password(password, stored, log2_n)
    ok = verified and usable

    # 3. Settle: a session and a clean slate, or the failure recorded and the holder told.
    async def settle() -> AuthSession | None:
        async with unscoped_session(sessions) as session, session.begin():
            attempt = await throttle.reload(session, counted)
            if ok:
                assert user_id is not None
                throttle.succeeded(attempt)
                auth_session = AuthSession(
                    user_id=user_id, expires_at=utcnow() + timedelta(seconds=codec.ttl_seconds)
                )
                session.add(auth_session)
                await session.flush()
                await record(
                    session,
                    Actor("user", str(user_id)),
                    "auth.sign_in",
                    object_type="user",
                    object_id=user_id,
                )
                return auth_session
            await record(
                session,
                Actor("anonymous"),
                "auth.sign_in_failed",
                object_type="user",
                object_id=user_id,
            )
            until = throttle.lock_to_report(attempt)
            if until is not None:
                # Audited whether or not an account has the address (the trail is not the
                # caller's to read); mailed only to a holder.
                await record(
                    session,
                    Actor.system(),
                    "auth.sign_in_locked",
                    object_type="user",
                    object_id=user_id,
                    detail={"until": until.isoformat(), "by": sorted(attempt.locked)},
                )
                if user_email is not None:
                    text = until.strftime("%Y-%m-%d %H:%M:%S")
                    await enqueue_mail(
                        session=session,
                        to=user_email,
                        subject="安监平台账户已临时锁定 / Anjian account temporarily locked",
                        body=_lock_notice(text),
                        idempotency_key=f"sign-in-lock:{attempt.account.id}:{until.isoformat()}",
                    )
            await throttle.purge(session)
            return None

    auth_session = await retry_lost_race(settle)
    if auth_session is None:
        raise Unauthenticated(SIGN_IN_FAILED)
    return codec.issue(TokenClaims(auth_session.id, auth_session.user_id))


async def revoke_token_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
) -> None:
    if principal.session_id is None:
        raise Unauthenticated("no signed-in session to revoke")
    async with sessions() as session, session.begin():
        auth_session = await session.get(AuthSession, principal.session_id)
        if auth_session is not None and auth_session.revoked_at is None:
            auth_session.revoked_at = utcnow()
            await record(
                session,
                principal.actor(),
                "auth.sign_out",
                object_type="user",
                object_id=principal.id,
            )


async def unscoped_end_session_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    codec: TokenCodec,
    token: str,
) -> bool:
    """Revoke the session a token names (a browser's cookie at sign-out). True when a live
    session ended; False for a token that names none any more (expired, revoked, not ours):
    signing out twice is not an error."""
    try:
        claims = codec.read(token)
    except Unauthenticated:
        return False
    async with unscoped_session(sessions) as session, session.begin():
        auth_session = await session.get(AuthSession, claims.session_id)
        if (
            auth_session is None
            or auth_session.user_id != claims.user_id
            or auth_session.revoked_at is not None
        ):
            return False
        auth_session.revoked_at = utcnow()
        await record(
            session,
            Actor("user", str(claims.user_id)),
            "auth.sign_out",
            object_type="user",
            object_id=claims.user_id,
        )
    return True


async def scope_for_grants(
    *,
    session: AsyncSession,
    grants: tuple[Grant, ...],
) -> Scope:
    tenant_ids = frozenset(
        uuid.UUID(g.domain.removeprefix("tenant:"))
        for g in grants
        if g.domain.startswith("tenant:")
    )
    jurisdictions = frozenset(
        g.domain.removeprefix("gov:") for g in grants if g.domain.startswith("gov:")
    )
    return Scope(
        tenant_ids=tenant_ids,
        jurisdictions=jurisdictions,
        jurisdiction_tenant_ids=await unscoped_jurisdiction_tenants(
            session=session, jurisdictions=jurisdictions
        ),
    )


async def unscoped_resolve_token(
    *,
    sessions: async_sessionmaker[AsyncSession],
    codec: TokenCodec,
    authz: Authorizer,
    token: str,
) -> Principal:
    claims = codec.read(token)
    return await _unscoped_principal_of_session(sessions, authz, claims.session_id, claims.user_id)


async def unscoped_refresh_principal(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
) -> Principal:
    """The caller as the store knows it now: a long-lived connection (a subscription) re-reads
    it, so a revoked session, a disabled account or a removed membership ends what it may see
    without waiting for a reconnect. Raises ``Unauthenticated`` when the session is over."""
    if principal.kind != "user" or principal.session_id is None or principal.id is None:
        return principal
    return await _unscoped_principal_of_session(sessions, authz, principal.session_id, principal.id)


async def _unscoped_principal_of_session(
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
) -> Principal:
    # Resolving the caller precedes any scope: this is what computes it.
    async with unscoped_session(sessions) as session, session.begin():
        auth_session = await session.get(AuthSession, session_id)
        if (
            auth_session is None
            or auth_session.user_id != user_id
            or auth_session.revoked_at is not None
            or auth_session.expires_at <= utcnow()
        ):
            raise Unauthenticated("the token is invalid, expired or revoked")
        user = await session.get(User, user_id)
        if user is None or user.disabled:
            raise Unauthenticated("the account is disabled")
        rows = await session.execute(
            select(Membership.domain, Membership.role).where(Membership.user_id == user.id)
        )
        grants = tuple(Grant(domain, role) for domain, role in rows)
        scope = await scope_for_grants(session=session, grants=grants)
        await authz.ensure_fresh(session)
    return Principal("user", user.id, user.email, grants, scope, auth_session.id)
