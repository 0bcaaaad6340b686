"""Members of a domain: listing them, adding accounts from the command line, changing their
roles, suspending and enabling them in the domain, removing members, and disabling accounts.

Removal follows the rule of inviting: a member may remove only those holding a role it could
grant (a safety manager removes operators and viewers, never an owner), and the last owner of
a tenant cannot be removed, so no tenant is left without someone who can manage it. Every
change is audited. Roles are re-read from the database on every request, so a removed role
stops working on the caller's next request; a disabled account also has every sign-in session
revoked at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth import passwords
from backend.auth.authz import GRANTABLE, Authorizer, bump_version
from backend.auth.models import (
    SUSPENDED_PREFIX,
    AuthSession,
    Invitation,
    Membership,
    User,
    suspended_domain,
)
from backend.auth.principal import Principal
from backend.auth.service import (
    check_password_strength,
    check_role,
    create_user,
    domain_in_scope,
    find_user,
    grant_membership,
    normalise_email,
    require,
)
from backend.core.db import utcnow
from backend.core.errors import BadInput, Conflict, Forbidden, NotFound
from privacy.audit import record
from tenants.scope import unscoped_session


@dataclass(frozen=True)
class MemberRow:
    user_id: uuid.UUID
    email: str
    domain: str
    role: str
    since: datetime
    disabled: bool
    suspended: bool = False


def _check_domain(principal: Principal, domain: str) -> str | None:
    """The caller's role in ``domain``; a domain outside its scope is ``NotFound``."""
    if principal.kind == "system":
        return None
    role = principal.role_in(domain)
    if role is None or not domain_in_scope(principal.scope, domain):
        raise NotFound(f"domain {domain} not found")
    return role


async def unscoped_add_member_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    domain: str,
    email: str,
    role: str,
    password: str | None,
    log2_n: int,
) -> User:
    """The operator's command line: grant ``role`` at once, creating the account with
    ``password`` when the address has none (accounts made this way work at once, as the
    contract's ``tenant create`` and ``regulator create`` do). An existing account keeps its
    password. Signed-in users invite instead (``backend.auth.invitations``)."""
    if principal.kind != "system":
        raise Forbidden("members are added directly only at the command line; invite instead")
    check_role(domain, role)
    address = normalise_email(email)
    actor = principal.actor(domain)
    async with unscoped_session(sessions) as session, session.begin():
        user = await find_user(session=session, email=address)
        if user is None:
            if password is None:
                raise BadInput(f"{address} has no account yet: give it a password")
            user = await create_user(
                session=session, email=address, password=password, actor=actor, log2_n=log2_n
            )
        elif user.password_hash is None:
            # An address invited earlier but never accepted: the operator vouches for it now.
            if password is None:
                raise BadInput(f"{address} has no password yet: give it one")
            check_password_strength(password, address)
            user.password_hash = passwords.hash_password(password, log2_n)
        await grant_membership(session=session, user=user, domain=domain, role=role, actor=actor)
    return user


async def unscoped_list_members(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    domain: str,
) -> list[MemberRow]:
    """The members of ``domain``, oldest first, the suspended ones marked (the console's
    people page)."""
    _check_domain(principal, domain)
    require(authz, principal, domain, "membership", "read")
    async with unscoped_session(sessions) as session:
        rows = (
            await session.execute(
                select(Membership, User)
                .join(User, User.id == Membership.user_id)
                .where(Membership.domain.in_((domain, suspended_domain(domain))))
                .order_by(Membership.created_at, Membership.id)
            )
        ).all()
        return [
            MemberRow(
                user.id,
                user.email,
                domain,
                m.role,
                m.created_at,
                user.disabled,
                suspended=m.domain != domain,
            )
            for m, user in rows
        ]


async def _target(
    session: AsyncSession, user_id: uuid.UUID | None, email: str | None
) -> User | None:
    if (user_id is None) == (email is None):
        raise BadInput("name the person by exactly one of userId and email")
    if user_id is not None:
        return await session.get(User, user_id)
    assert email is not None
    return await find_user(session=session, email=normalise_email(email))


async def _membership(session: AsyncSession, user_id: uuid.UUID, domain: str) -> Membership | None:
    """The user's membership of ``domain``, held or suspended, locked for the change."""
    return await session.scalar(
        select(Membership)
        .where(
            Membership.user_id == user_id,
            Membership.domain.in_((domain, suspended_domain(domain))),
        )
        .with_for_update()
    )


async def _last_owner(session: AsyncSession, domain: str) -> bool:
    """Whether ``domain`` has one owner left holding the role (suspended ones do not)."""
    owners = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.domain == domain, Membership.role == "owner")
    )
    return (owners or 0) <= 1


async def _holds_any_role(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether the user holds a role anywhere (suspended memberships hold none)."""
    held = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.user_id == user_id, ~Membership.domain.startswith(SUSPENDED_PREFIX))
    )
    return bool(held)


async def unscoped_remove_member_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    domain: str,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
) -> None:
    """Take away someone's role in ``domain``, with their pending invitations to it."""
    remover_role = _check_domain(principal, domain)
    require(authz, principal, domain, "membership", "delete")
    now = utcnow()
    async with unscoped_session(sessions) as session, session.begin():
        user = await _target(session, user_id, email)
        membership = None if user is None else await _membership(session, user.id, domain)
        if user is None or membership is None:
            raise NotFound(f"no such member of {domain}")
        if principal.kind != "system" and membership.role not in GRANTABLE.get(
            remover_role or "", ()
        ):
            raise Forbidden(f"a {remover_role} may not remove a {membership.role}")
        held = membership.role == "owner" and membership.domain == domain
        if held and await _last_owner(session, domain):
            raise Conflict("the last owner of a tenant cannot be removed; add another first")
        role = membership.role
        await session.delete(membership)
        await session.execute(
            update(Invitation)
            .where(
                await Invitation.email.matches(session, user.email),
                Invitation.domain == domain,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        await bump_version(session)
        if not await _holds_any_role(session, user.id):
            # Nothing left to sign in for: end the sessions too. With other roles left, the
            # sessions stay, and the removed role is gone from the next request's principal.
            await _revoke_sessions(session, user.id, now)
        await record(
            session,
            principal.actor(domain),
            "membership.remove",
            domain=domain,
            object_type="user",
            object_id=user.id,
            detail={"role": role},
        )


async def unscoped_change_member_role_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    domain: str,
    user_id: uuid.UUID,
    role: str,
) -> MemberRow:
    """Give a member of ``domain`` another role there.

    Changing a role is taking one away and granting another, so the caller needs both
    permissions and must be able to grant the old role as well as the new one: a safety
    manager moves people between operator and viewer, and never makes or unmakes an owner.
    Nobody changes their own membership (an owner demoting itself by mistake would lock the
    tenant out of its own management), and the last owner keeps the role."""
    changer_role = _check_domain(principal, domain)
    require(authz, principal, domain, "membership", "create", operation="change member roles")
    require(authz, principal, domain, "membership", "delete", operation="change member roles")
    check_role(domain, role)
    async with unscoped_session(sessions) as session, session.begin():
        membership = await _membership(session, user_id, domain)
        user = None if membership is None else await session.get(User, user_id)
        if membership is None or user is None:
            raise NotFound(f"no such member of {domain}")
        if principal.id is not None and user_id == principal.id:
            raise Conflict("you cannot change your own role; ask another member who may")
        old = membership.role
        if principal.kind != "system":
            grantable = GRANTABLE.get(changer_role or "", ())
            for held in (old, role):
                if held not in grantable:
                    raise Forbidden(
                        f"a {changer_role} may not change a member's role from {old} to {role}"
                    )
        if membership.domain != domain:
            raise Conflict("the membership is suspended: enable it before changing its role")
        if old != role:
            if old == "owner" and await _last_owner(session, domain):
                raise Conflict(
                    "the last owner of a tenant keeps the role; make another owner first"
                )
            membership.role = role
            # The next request of every process re-reads roles: the change holds at once.
            await bump_version(session)
            await record(
                session,
                principal.actor(domain),
                "membership.role_change",
                domain=domain,
                object_type="user",
                object_id=user.id,
                detail={"role": role, "previous_role": old},
            )
        return _row(user, membership, domain)


MAX_REASON = 500


async def unscoped_set_member_enabled_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    domain: str,
    user_id: uuid.UUID,
    enabled: bool,
    reason: str | None = None,
) -> MemberRow:
    """Suspend someone's membership of ``domain`` (it grants nothing there until enabled
    again; their account and roles elsewhere are untouched) or enable it again, role intact.

    The rules of changing a role hold: the caller must be able to grant the member's role,
    nobody suspends themselves, and the last owner holding the role is not suspended. With
    nothing left to sign in for, the member's sessions end at once, as on removal."""
    caller_role = _check_domain(principal, domain)
    require(authz, principal, domain, "membership", "create", operation="suspend members")
    require(authz, principal, domain, "membership", "delete", operation="suspend members")
    why = None if reason is None else reason.strip() or None
    if why is not None and len(why) > MAX_REASON:
        raise BadInput(f"reason is at most {MAX_REASON} characters")
    now = utcnow()
    async with unscoped_session(sessions) as session, session.begin():
        membership = await _membership(session, user_id, domain)
        user = None if membership is None else await session.get(User, user_id)
        if membership is None or user is None:
            raise NotFound(f"no such member of {domain}")
        if principal.id is not None and user_id == principal.id:
            raise Conflict("you cannot suspend or enable your own membership")
        if principal.kind != "system" and membership.role not in GRANTABLE.get(
            caller_role or "", ()
        ):
            raise Forbidden(f"a {caller_role} may not suspend or enable a {membership.role}")
        suspended = membership.domain != domain
        if suspended != enabled:
            return _row(user, membership, domain)
        if not enabled and membership.role == "owner" and await _last_owner(session, domain):
            raise Conflict("the last owner of a tenant cannot be suspended; add another first")
        membership.domain = domain if enabled else suspended_domain(domain)
        await session.flush()
        await bump_version(session)
        revoked = 0
        if not enabled and not await _holds_any_role(session, user.id):
            revoked = await _revoke_sessions(session, user.id, now)
        detail: dict[str, object] = {"role": membership.role}
        if why is not None:
            detail["reason"] = why
        if revoked:
            detail["sessions_revoked"] = revoked
        await record(
            session,
            principal.actor(domain),
            "membership.enable" if enabled else "membership.suspend",
            domain=domain,
            object_type="user",
            object_id=user.id,
            detail=detail,
        )
        return _row(user, membership, domain)


def _row(user: User, membership: Membership, domain: str) -> MemberRow:
    return MemberRow(
        user.id,
        user.email,
        domain,
        membership.role,
        membership.created_at,
        user.disabled,
        suspended=membership.domain != domain,
    )


async def _revoke_sessions(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> int:
    result = await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def unscoped_set_user_disabled_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    disabled: bool,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
) -> User:
    """Disable an account (every session revoked at once; it cannot sign in nor accept
    invitations) or enable it again. The platform administrator's or the operator's."""
    require(authz, principal, "platform", "user", "update")
    now = utcnow()
    async with unscoped_session(sessions) as session, session.begin():
        user = await _target(session, user_id, email)
        if user is None:
            raise NotFound("no such account")
        if disabled and principal.id is not None and user.id == principal.id:
            raise Conflict("you cannot disable your own account")
        if user.disabled == disabled:
            return user
        user.disabled = disabled
        revoked = await _revoke_sessions(session, user.id, now) if disabled else 0
        await record(
            session,
            principal.actor("platform"),
            "user.disable" if disabled else "user.enable",
            object_type="user",
            object_id=user.id,
            detail={"sessions_revoked": revoked} if disabled else None,
        )
    return user
