"""Sign-in, tokens, users, memberships and invitations: the only writers of auth tables."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth import passwords
from backend.auth.authz import (
    GRANTABLE,
    Authorizer,
    bump_version,
    domain_kind,
    roles_for_domain,
)
from backend.auth.models import AuthSession, Invitation, Membership, User
from backend.auth.principal import Grant, Principal
from backend.auth.tokens import TokenClaims, TokenCodec
from backend.core.db import utcnow
from backend.core.errors import BadInput, Conflict, Forbidden, NotFound, Unauthenticated
from privacy.audit import Actor, record
from tenants.divisions import covers
from tenants.scope import Scope, unscoped_jurisdiction_tenants, unscoped_session

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
INVITATION_TTL = timedelta(days=7)


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise BadInput(f"not an e-mail address: {email!r}")
    return value


def check_password_strength(password: str) -> None:
    if len(password) < passwords.MIN_PASSWORD_LENGTH:
        raise BadInput(f"passwords need at least {passwords.MIN_PASSWORD_LENGTH} characters")


def check_role(domain: str, role: str) -> None:
    allowed = roles_for_domain(domain)
    if role not in allowed:
        raise BadInput(
            f"role {role!r} does not exist in a {domain_kind(domain)} domain; "
            f"choose one of {', '.join(allowed) or 'none'}"
        )


def may(authz: Authorizer, principal: Principal, domain: str, obj: str, action: str) -> bool:
    """Whether the principal's role in ``domain`` allows ``action`` on ``obj`` (Casbin decides)."""
    if principal.kind == "system":
        return True
    return principal.id is not None and authz.allowed(str(principal.id), domain, obj, action)


def require(authz: Authorizer, principal: Principal, domain: str, obj: str, action: str) -> None:
    """The permission check of every service operation; the scope has already found the object."""
    if not may(authz, principal, domain, obj, action):
        raise Forbidden(f"your role may not {action} {obj} here")


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str | None,
    actor: Actor,
    log2_n: int,
    display_name: str | None = None,
) -> User:
    address = normalise_email(email)
    if password is not None:
        check_password_strength(password)
    taken = await User.email.matches(session, address)
    if await session.scalar(select(User.id).where(taken)) is not None:
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
    session: AsyncSession, *, user: User, domain: str, role: str, actor: Actor
) -> Membership:
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
        granted_by = uuid.UUID(actor.id) if actor.kind == "user" and actor.id else None
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


async def login(
    maker: async_sessionmaker[AsyncSession],
    codec: TokenCodec,
    *,
    email: str,
    password: str,
    log2_n: int,
) -> str:
    try:
        address = normalise_email(email)
    except BadInput:
        raise Unauthenticated("wrong e-mail or password") from None
    async with maker() as session, session.begin():
        user = await session.scalar(select(User).where(await User.email.matches(session, address)))
        if user is None:
            passwords.burn_time(password, log2_n)
            ok = False
        else:
            ok = not user.disabled and passwords.verify_password(password, user.password_hash)
        if not ok:
            await record(
                session,
                Actor("anonymous"),
                "auth.sign_in_failed",
                object_type="user",
                object_id=None if user is None else user.id,
            )
        else:
            assert user is not None
            auth_session = AuthSession(
                user_id=user.id, expires_at=utcnow() + timedelta(seconds=codec.ttl_seconds)
            )
            session.add(auth_session)
            await session.flush()
            await record(
                session,
                Actor("user", str(user.id)),
                "auth.sign_in",
                object_type="user",
                object_id=user.id,
            )
    if not ok:
        raise Unauthenticated("wrong e-mail or password")
    return codec.issue(TokenClaims(auth_session.id, user.id))


async def revoke_token(maker: async_sessionmaker[AsyncSession], principal: Principal) -> None:
    if principal.session_id is None:
        raise Unauthenticated("no signed-in session to revoke")
    async with maker() as session, session.begin():
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


async def scope_for_grants(session: AsyncSession, grants: tuple[Grant, ...]) -> Scope:
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
        jurisdiction_tenant_ids=await unscoped_jurisdiction_tenants(session, jurisdictions),
    )


async def resolve_token(
    maker: async_sessionmaker[AsyncSession], codec: TokenCodec, authz: Authorizer, token: str
) -> Principal:
    claims = codec.read(token)
    # Resolving the caller precedes any scope: this is what computes it.
    async with unscoped_session(maker) as session, session.begin():
        auth_session = await session.get(AuthSession, claims.session_id)
        if (
            auth_session is None
            or auth_session.user_id != claims.user_id
            or auth_session.revoked_at is not None
            or auth_session.expires_at <= utcnow()
        ):
            raise Unauthenticated("the token is invalid, expired or revoked")
        user = await session.get(User, claims.user_id)
        if user is None or user.disabled:
            raise Unauthenticated("the account is disabled")
        rows = await session.execute(
            select(Membership.domain, Membership.role).where(Membership.user_id == user.id)
        )
        grants = tuple(Grant(domain, role) for domain, role in rows)
        scope = await scope_for_grants(session, grants)
        await authz.ensure_fresh(session)
    return Principal("user", user.id, user.email, grants, scope, auth_session.id)


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def invite_user(
    maker: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    *,
    domain: str,
    email: str,
    role: str,
    log2_n: int,
) -> tuple[User, str]:
    """Give ``email`` a role in ``domain`` (creating the account); returns a one-time token."""
    check_role(domain, role)
    inviter_role = principal.role_in(domain)
    if principal.kind != "system":
        if inviter_role is None or not _domain_in_scope(principal.scope, domain):
            raise NotFound(f"domain {domain} not found")
        require(authz, principal, domain, "membership", "create")
        if role not in GRANTABLE.get(inviter_role, ()):
            raise Forbidden(f"a {inviter_role} may not grant the role {role}")
    token = secrets.token_urlsafe(32)
    actor = principal.actor(domain)
    async with unscoped_session(maker) as session, session.begin():
        user = await session.scalar(
            select(User).where(await User.email.matches(session, normalise_email(email)))
        )
        if user is not None and principal.kind != "system":
            held = await session.scalar(
                select(Membership.role).where(
                    Membership.user_id == user.id, Membership.domain == domain
                )
            )
            # Re-inviting changes a member's role: only someone who could grant the role the
            # member holds now may do that (a safety manager cannot demote an owner).
            if held is not None and held not in GRANTABLE.get(inviter_role or "", ()):
                raise Forbidden(f"a {inviter_role} may not change the role of a {held}")
        if user is None:
            user = await create_user(
                session, email=email, password=None, actor=actor, log2_n=log2_n
            )
        await grant_membership(session, user=user, domain=domain, role=role, actor=actor)
        session.add(
            Invitation(
                user_id=user.id,
                domain=domain,
                role=role,
                token_hash=_token_hash(token),
                invited_by=principal.id,
                expires_at=utcnow() + INVITATION_TTL,
            )
        )
    return user, token


def _domain_in_scope(scope: Scope, domain: str) -> bool:
    if domain.startswith("tenant:"):
        return uuid.UUID(domain.removeprefix("tenant:")) in scope.tenant_ids
    if domain.startswith("gov:"):
        return any(covers(j, domain.removeprefix("gov:")) for j in scope.jurisdictions)
    return False


async def accept_invitation(
    maker: async_sessionmaker[AsyncSession], *, token: str, password: str, log2_n: int
) -> User:
    check_password_strength(password)
    async with maker() as session, session.begin():
        invitation = await session.scalar(
            select(Invitation).where(Invitation.token_hash == _token_hash(token))
        )
        if (
            invitation is None
            or invitation.accepted_at is not None
            or invitation.expires_at <= utcnow()
        ):
            raise NotFound("the invitation does not exist, was used, or has expired")
        user = await session.get(User, invitation.user_id)
        assert user is not None
        if user.password_hash is None:
            user.password_hash = passwords.hash_password(password, log2_n)
        invitation.accepted_at = utcnow()
        await record(
            session,
            Actor("user", str(user.id)),
            "invitation.accept",
            domain=invitation.domain,
            object_type="user",
            object_id=user.id,
        )
    return user
