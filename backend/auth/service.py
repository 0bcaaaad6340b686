"""Sign-in, tokens, users and memberships: the only writers of auth tables.

Invitations live in ``backend.auth.invitations`` and member removal and account disabling in
``backend.auth.members``; both build on the helpers here.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
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
from backend.auth.models import (
    SUSPENDED_PREFIX,
    AuthSession,
    Membership,
    User,
    suspended_domain,
)
from backend.auth.principal import Grant, Principal
from backend.auth.throttle import UNKNOWN_ADDRESS, Attempt, Throttle
from backend.auth.tokens import TokenClaims, TokenCodec
from backend.core.db import retry_lost_race, utcnow
from backend.core.errors import BadInput, Conflict, NotFound, Unauthenticated
from privacy.audit import (
    MAX_PAGE,
    Actor,
    AuditEntry,
    CsvRow,
    EntryFilter,
    entries_csv,
    list_entries,
    record,
    record_read,
)
from tenants.divisions import covers, validate_division
from tenants.models import Tenant
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
    """``role`` exists in ``domain``'s kind, and a ``gov:`` domain names a real division."""
    if domain.startswith("gov:"):
        validate_division(domain.removeprefix("gov:"))
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


async def refuse_if_suspended(*, session: AsyncSession, user_id: uuid.UUID, domain: str) -> None:
    """A member suspended in ``domain`` comes back only by being enabled, never by a second,
    fresh membership beside the suspended one."""
    suspended = await session.scalar(
        select(Membership.id).where(
            Membership.user_id == user_id, Membership.domain == suspended_domain(domain)
        )
    )
    if suspended is not None:
        raise Conflict(f"the account is suspended in {domain}: enable its membership instead")


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
    await refuse_if_suspended(session=session, user_id=user.id, domain=domain)
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


PASSWORD_WRONG = "the current password is wrong"


async def unscoped_change_password_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    current: str,
    new: str,
    log2_n: int,
    client_address: str | None = None,
    throttle: Throttle | None = None,
) -> int:
    """Replace the signed-in user's password, knowing the current one; every other session of
    the account ends (a thief's included), this one stays. Returns how many ended.

    A guess of the current password is a sign-in attempt: it counts against sign-in's throttle
    (same subjects), so a stolen session cannot be used to try passwords faster than the
    sign-in page allows. A new password the policy refuses is refused before anything counts.
    """
    if principal.kind != "user" or principal.id is None:
        raise Unauthenticated("sign in to change your password")
    throttle = throttle or _DEFAULT_THROTTLE
    address = client_address or UNKNOWN_ADDRESS
    user_id = principal.id

    async def count() -> tuple[Attempt, str | None]:
        async with unscoped_session(sessions) as session, session.begin():
            user = await session.get(User, user_id)
            if user is None or user.disabled:
                raise Unauthenticated("the account is disabled")
            check_password_strength(new, user.email)
            attempt = await throttle.admit(session, email=user.email, address=address)
            return attempt, user.password_hash

    counted, stored = await retry_lost_race(count, conflicts=(IntegrityError,))
    verified = passwords.verify_password(current, stored, log2_n)
    new_hash = passwords.hash_password(new, log2_n) if verified else None

    async def settle() -> int | None:
        async with unscoped_session(sessions) as session, session.begin():
            attempt = await throttle.reload(session, counted)
            if new_hash is None:
                await record(
                    session,
                    principal.actor(),
                    "auth.password_change_failed",
                    object_type="user",
                    object_id=user_id,
                )
                await throttle.purge(session)
                return None
            throttle.succeeded(attempt)
            user = await session.get(User, user_id, with_for_update=True, populate_existing=True)
            if user is None or user.password_hash != stored:
                # Changed or reset meanwhile: the password just checked is not current any more.
                raise Conflict("the password was changed meanwhile; sign in again")
            user.password_hash = new_hash
            now = utcnow()
            others = [AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)]
            if principal.session_id is not None:
                others.append(AuthSession.id != principal.session_id)
            result = await session.execute(
                update(AuthSession).where(*others).values(revoked_at=now)
            )
            revoked = int(result.rowcount or 0)  # type: ignore[attr-defined]
            await record(
                session,
                principal.actor(),
                "auth.password_change",
                object_type="user",
                object_id=user_id,
                detail={"sessions_revoked": revoked},
            )
            return revoked

    revoked = await retry_lost_race(settle)
    if revoked is None:
        raise BadInput(PASSWORD_WRONG)
    return revoked


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


class SessionWentIdle(Unauthenticated):
    """The session was unused for longer than its idle timeout, and is now ended."""


# A session's last use is written at most this often: one write a minute per signed-in page,
# not one per request.
_TOUCH_EVERY = timedelta(seconds=60)


async def unscoped_resolve_token(
    *,
    sessions: async_sessionmaker[AsyncSession],
    codec: TokenCodec,
    authz: Authorizer,
    token: str,
) -> Principal:
    claims = codec.read(token)
    return await _unscoped_principal_of_session(
        sessions, authz, claims, idle=timedelta(seconds=codec.idle_seconds)
    )


async def unscoped_resolve_browser_session(
    *,
    sessions: async_sessionmaker[AsyncSession],
    codec: TokenCodec,
    authz: Authorizer,
    token: str,
) -> tuple[Principal, str | None]:
    """The caller of a session cookie, and a fresh token for the same session when this one is
    past half its life (the session's expiry moves with it): a page in use is never signed
    out, one left alone is after the idle timeout."""
    claims = codec.read(token)
    now = utcnow()
    renew = codec.past_half_life(token, now.timestamp())
    principal = await _unscoped_principal_of_session(
        sessions,
        authz,
        claims,
        idle=timedelta(seconds=codec.idle_seconds),
        extend_to=now + timedelta(seconds=codec.ttl_seconds) if renew else None,
    )
    return principal, codec.issue(claims) if renew else None


async def unscoped_refresh_principal(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
) -> Principal:
    """The caller as the store knows it now: a long-lived connection (a subscription) re-reads
    it, so a revoked session, a disabled account or a removed membership ends what it may see
    without waiting for a reconnect. Raises ``Unauthenticated`` when the session is over. An
    open subscription is a page in use: it keeps the session from going idle."""
    if principal.kind != "user" or principal.session_id is None or principal.id is None:
        return principal
    claims = TokenClaims(principal.session_id, principal.id)
    return await _unscoped_principal_of_session(sessions, authz, claims, idle=None)


async def _unscoped_principal_of_session(
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    claims: TokenClaims,
    *,
    idle: timedelta | None,
    extend_to: datetime | None = None,
) -> Principal:
    """The principal of a live session, marked used now. A session unused for longer than the
    idle timeout (``idle``, or the strictest of its tenants') is ended for good: raising the
    timeout later does not bring it back."""
    now = utcnow()
    idle_minutes: int | None = None
    # Resolving the caller precedes any scope: this is what computes it.
    async with unscoped_session(sessions) as session, session.begin():
        auth_session = await session.get(AuthSession, claims.session_id)
        if (
            auth_session is None
            or auth_session.user_id != claims.user_id
            or auth_session.revoked_at is not None
            or auth_session.expires_at <= now
        ):
            raise Unauthenticated("the token is invalid, expired or revoked")
        user = await session.get(User, claims.user_id)
        if user is None or user.disabled:
            raise Unauthenticated("the account is disabled")
        rows = await session.execute(
            select(Membership.domain, Membership.role).where(
                Membership.user_id == user.id, ~Membership.domain.startswith(SUSPENDED_PREFIX)
            )
        )
        grants = tuple(Grant(domain, role) for domain, role in rows)
        scope = await scope_for_grants(session=session, grants=grants)
        last_seen = auth_session.last_seen_at or auth_session.created_at
        if idle is not None:
            limit = await _idle_timeout(session, scope.tenant_ids, idle)
            if now - last_seen > limit:
                auth_session.revoked_at = now
                idle_minutes = int(limit.total_seconds() // 60)
        if idle_minutes is None:
            if auth_session.last_seen_at is None or now - last_seen >= _TOUCH_EVERY:
                auth_session.last_seen_at = now
            if extend_to is not None and extend_to > auth_session.expires_at:
                auth_session.expires_at = extend_to
            await authz.ensure_fresh(session)
    if idle_minutes is not None:
        raise SessionWentIdle(
            f"the session ended after {idle_minutes} minutes without use; sign in again"
        )
    return Principal("user", user.id, user.email, grants, scope, auth_session.id)


async def _idle_timeout(
    session: AsyncSession, tenant_ids: frozenset[uuid.UUID], default: timedelta
) -> timedelta:
    """The strictest idle timeout of the tenants an account belongs to; ``default`` where a
    tenant chose none, and for accounts of no tenant (regulators, the platform)."""
    if not tenant_ids:
        return default
    chosen = await session.scalars(
        select(Tenant.idle_timeout_minutes).where(Tenant.id.in_(tenant_ids))
    )
    return min(
        (timedelta(minutes=m) if m is not None else default for m in chosen), default=default
    )


# --- the audit trail, read by a tenant ---------------------------------------------------------

# Rows one CSV export may hold: a busy tenant's month. Beyond that the caller narrows the range,
# rather than the server building a file of unbounded size in memory.
MAX_AUDIT_CSV_ROWS = 100_000
AUDIT_READ_PURPOSE = "enterprise.audit"


def _audit_domain(
    authz: Authorizer, principal: Principal, tenant_id: uuid.UUID | None
) -> str | None:
    """The tenant domain whose trail the caller reads: ``tenant_id``'s, or the caller's only
    tenant; None when the caller has no tenant at all (a regulator, the platform: nothing to
    list). Another tenant is not found; a role that may not read the trail is refused."""
    own = [
        g.domain
        for g in principal.grants
        if g.domain.startswith("tenant:") and domain_in_scope(principal.scope, g.domain)
    ]
    if tenant_id is not None:
        domain = f"tenant:{tenant_id}"
        if domain not in own:
            raise NotFound(f"tenant {tenant_id} not found")
    elif not own:
        return None
    elif len(own) > 1:
        raise BadInput("you belong to several tenants: name one with tenantId")
    else:
        domain = own[0]
    require(authz, principal, domain, "audit", "read", operation="read the audit trail")
    return domain


@dataclass(frozen=True)
class AuditPage:
    tenant_id: uuid.UUID | None
    entries: list[AuditEntry]
    users: dict[str, User]  # the acting accounts, by the entries' actor id


async def _actor_filter(session: AsyncSession, actor_email: str | None) -> str | bool | None:
    """The actor id to filter on; False when the address has no account (nothing matches)."""
    if actor_email is None:
        return None
    user = await find_user(session=session, email=normalise_email(actor_email))
    return False if user is None else str(user.id)


async def _acting_users(session: AsyncSession, entries: list[AuditEntry]) -> dict[str, User]:
    ids = set()
    for entry in entries:
        if entry.actor_kind == "user" and entry.actor_id:
            try:
                ids.add(uuid.UUID(entry.actor_id))
            except ValueError:
                continue
    found = await users_by_ids(session=session, user_ids=sorted(ids))
    return {str(k): v for k, v in found.items()}


async def list_audit_entries(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    where: EntryFilter,
    actor_email: str | None = None,
    tenant_id: uuid.UUID | None = None,
    first: int = 50,
    after: int | None = None,
) -> AuditPage:
    """A tenant's own audit entries, newest first, for its owner and safety managers (the
    console's audit page). Reading personal fields of the answer is audited by the GraphQL
    privacy pipeline."""
    domain = _audit_domain(authz, principal, tenant_id)
    if domain is None:
        return AuditPage(None, [], {})
    owner = uuid.UUID(domain.removeprefix("tenant:"))
    actor = await _actor_filter(session, actor_email)
    if actor is False:
        where.check()
        return AuditPage(owner, [], {})
    entries = await list_entries(
        session=session,
        domain=domain,
        where=EntryFilter(
            start=where.start,
            end=where.end,
            action=where.action,
            actor_id=actor or None,
            object_type=where.object_type,
        ),
        first=first,
        after=after,
    )
    return AuditPage(owner, entries, await _acting_users(session, entries))


async def audit_entries_csv(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    where: EntryFilter,
    actor_email: str | None = None,
    tenant_id: uuid.UUID | None = None,
) -> bytes:
    """The same entries as ``list_audit_entries``, all of them (newest first), as a CSV for a
    spreadsheet; the export is a read of personal data (who did what) and is audited as one,
    in the caller's transaction."""
    domain = _audit_domain(authz, principal, tenant_id)
    if domain is None:
        return entries_csv([])
    actor = await _actor_filter(session, actor_email)
    where.check()
    entries: list[AuditEntry] = []
    if actor is not False:
        where = EntryFilter(
            start=where.start,
            end=where.end,
            action=where.action,
            actor_id=actor or None,
            object_type=where.object_type,
        )
        after = None
        while True:
            page = await list_entries(
                session=session, domain=domain, where=where, first=MAX_PAGE, after=after
            )
            entries += page
            if len(entries) > MAX_AUDIT_CSV_ROWS:
                raise BadInput(
                    f"more than {MAX_AUDIT_CSV_ROWS} entries: narrow the range with from and to"
                )
            if len(page) < MAX_PAGE:
                break
            after = page[-1].seq
    users = await _acting_users(session, entries)
    rows = [
        CsvRow(
            e,
            None if e.actor_id not in users else users[e.actor_id].email,
            None if e.actor_id not in users else users[e.actor_id].display_name,
        )
        for e in entries
    ]
    body = entries_csv(rows)
    if entries:
        await record_read(
            session,
            principal.actor(domain),
            purpose=AUDIT_READ_PURPOSE,
            object_type="AuditEntry",
            object_id=None,
            fields=["actorEmail", "actorName"],
            domain=domain,
            count=len(entries),
        )
    return body
