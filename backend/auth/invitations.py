"""Invitations: a role offered to an e-mail address, granted only when its holder accepts.

Why it works this way (the design of the most careful identity systems, e.g. GitHub
organisation invitations, Google Workspace, Slack):

- **The token reaches only the invitee, by mail.** The inviter learns that an invitation was
  sent, never its secret; otherwise the inviter could accept it and choose the password.
- **Nothing is granted at invitation time.** An invitation is bound to the address, not to an
  account. When the address has an account, its holder must be signed in as that account to
  accept; a token presented by anyone else is refused. When it has none, the account is created
  on acceptance, with the password its holder chooses, so an account created through an
  invitation exists (and its membership counts) only once the mailbox was proven.
- **The answer is the same whether or not the address has an account** (same fields, no user
  id, and the same rows written: one invitation and one queued mail either way), so inviting
  cannot be used to find out who has an account.
- **Atomic.** The invitation row, its audit entry and its mail (through the transactional
  outbox, ``backend.auth.mail_outbox``) commit together or not at all.
- **The inviter's right is checked again on acceptance**: an invitation from someone who has
  since lost the right to grant the role (removed, disabled, demoted) grants nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth import passwords
from backend.auth.authz import GRANTABLE, Authorizer, domain_matches
from backend.auth.links import portal_for_domain, portal_link
from backend.auth.mail_outbox import enqueue_mail
from backend.auth.models import Invitation, Membership, User
from backend.auth.principal import Principal
from backend.auth.service import (
    check_password_strength,
    check_role,
    domain_in_scope,
    find_user,
    grant_membership,
    normalise_email,
    refuse_if_suspended,
    require,
)
from backend.core.db import utcnow
from backend.core.errors import BadInput, Forbidden, NotFound, Unauthenticated
from privacy.audit import Actor, record
from tenants.models import Tenant
from tenants.scope import unscoped_session

INVITATION_TTL = timedelta(days=7)
_GONE = "the invitation does not exist, was used, or has expired"


@dataclass(frozen=True)
class InvitationSent:
    """What the inviter learns: what was offered to whom, and until when. Nothing about
    whether the address has an account."""

    email: str
    domain: str
    role: str
    expires_at: datetime


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def _domain_label(session: AsyncSession, domain: str) -> str:
    """The tenant's name for a tenant domain (what the invitee recognises), else the domain."""
    if domain.startswith("tenant:"):
        try:
            tenant_id = uuid.UUID(domain.removeprefix("tenant:"))
        except ValueError:
            return domain
        name = await session.scalar(select(Tenant.name).where(Tenant.id == tenant_id))
        return name or domain
    if domain.startswith("gov:"):
        return f"监管部门 {domain.removeprefix('gov:')} / regulator {domain.removeprefix('gov:')}"
    return domain


def _mail_body(
    label: str, role: str, link: str, token: str, expires: datetime, has_account: bool
) -> str:
    until = expires.strftime("%Y-%m-%d %H:%M")
    if has_account:
        zh = (
            f"您被邀请以「{role}」角色加入「{label}」。请打开下面的链接，"
            f"用您现有的账户登录后接受邀请：\n{link}"
        )
        en = (
            f"You are invited to join {label} as {role}. Open this link, sign in with your "
            f"existing account and accept the invitation:\n{link}"
        )
    else:
        zh = (
            f"您被邀请以「{role}」角色加入「{label}」。请打开下面的链接，"
            f"为新账户设置密码并接受邀请：\n{link}"
        )
        en = (
            f"You are invited to join {label} as {role}. Open this link to choose the password "
            f"of your new account and accept the invitation:\n{link}"
        )
    return (
        f"{zh}\n邀请令牌：{token}\n有效期至 {until}（UTC）。如果您不认识邀请方，请忽略本邮件。\n\n"
        f"{en}\nInvitation token: {token}\nValid until {until} (UTC). If you do not know who "
        "invited you, ignore this mail.\n"
    )


async def unscoped_invite_user_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    domain: str,
    email: str,
    role: str,
    public_url: str,
) -> InvitationSent:
    """Offer ``role`` in ``domain`` to ``email``; the token goes only into the mail, in a link
    on ``public_url`` (ANJIAN_PUBLIC_URL) to the accept page of the domain's portal."""
    check_role(domain, role)
    address = normalise_email(email)
    inviter_role = principal.role_in(domain)
    if principal.kind != "system":
        if inviter_role is None or not domain_in_scope(principal.scope, domain):
            raise NotFound(f"domain {domain} not found")
        require(authz, principal, domain, "membership", "create")
        if role not in GRANTABLE.get(inviter_role, ()):
            raise Forbidden(f"a {inviter_role} may not grant the role {role}")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    actor = principal.actor(domain)
    async with unscoped_session(sessions) as session, session.begin():
        user = await find_user(session=session, email=address)
        if user is not None:
            await refuse_if_suspended(session=session, user_id=user.id, domain=domain)
        if user is not None and principal.kind != "system":
            held = await session.scalar(
                select(Membership.role).where(
                    Membership.user_id == user.id, Membership.domain == domain
                )
            )
            # Members of the inviter's own domain are listed to it anyway: a lower role may
            # not offer a higher one a different role (a safety manager demoting an owner).
            if held is not None and held not in GRANTABLE.get(inviter_role or "", ()):
                raise Forbidden(f"a {inviter_role} may not change the role of a {held}")
        # A new invitation supersedes the address's earlier ones into the same domain.
        await session.execute(
            update(Invitation)
            .where(
                await Invitation.email.matches(session, address),
                Invitation.domain == domain,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        invitation = Invitation(
            domain=domain,
            role=role,
            token_hash=token_hash(token),
            invited_by=principal.id,
            expires_at=now + INVITATION_TTL,
        )
        invitation.email = address
        session.add(invitation)
        await session.flush()
        await record(
            session,
            actor,
            "invitation.create",
            domain=domain,
            object_type="invitation",
            object_id=invitation.id,
            detail={"role": role},
        )
        has_account = user is not None and user.password_hash is not None
        await enqueue_mail(
            session=session,
            to=address,
            subject="安监平台邀请 / Anjian invitation",
            body=_mail_body(
                await _domain_label(session, domain),
                role,
                portal_link(public_url, portal_for_domain(domain), "accept-invitation", token),
                token,
                invitation.expires_at,
                has_account,
            ),
            idempotency_key=f"invitation:{invitation.id}",
        )
    return InvitationSent(address, domain, role, invitation.expires_at)


async def _inviter_still_may(
    session: AsyncSession, invitation: Invitation, held: str | None
) -> bool:
    """Whether the invitation's inviter may still grant its role (CLI invitations always may)."""
    if invitation.invited_by is None:
        return True
    inviter = await session.get(User, invitation.invited_by)
    if inviter is None or inviter.disabled:
        return False
    roles = await session.execute(
        select(Membership.domain, Membership.role).where(Membership.user_id == inviter.id)
    )
    role = next((r for d, r in roles if domain_matches(invitation.domain, d)), None)
    grantable = GRANTABLE.get(role or "", ())
    return invitation.role in grantable and (held is None or held in grantable)


async def unscoped_accept_invitation_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    token: str,
    password: str | None,
    log2_n: int,
) -> User:
    """Take up an invitation: signed in as the invited account, or, for an address without
    one, creating the account with ``password``. Anyone else's token is refused."""
    now = utcnow()
    async with unscoped_session(sessions) as session, session.begin():
        invitation = await session.scalar(
            select(Invitation).where(Invitation.token_hash == token_hash(token)).with_for_update()
        )
        if (
            invitation is None
            or invitation.accepted_at is not None
            or invitation.revoked_at is not None
            or invitation.expires_at <= now
        ):
            raise NotFound(_GONE)
        address = invitation.email
        user = await find_user(session=session, email=address)
        has_account = user is not None and user.password_hash is not None
        if principal.kind == "user":
            # Signed in: only as the invited account itself.
            if user is None or user.id != principal.id:
                raise NotFound(_GONE)
            if password is not None:
                raise BadInput("you are signed in: accept the invitation without a password")
        elif has_account:
            raise Unauthenticated(
                "this address already has an account: sign in as it, then accept the invitation"
            )
        elif password is None:
            raise BadInput("choose a password for your new account to accept the invitation")
        else:
            check_password_strength(password, address)
        if user is not None and user.disabled:
            raise Forbidden("the invited account is disabled")
        held = None
        if user is not None:
            held = await session.scalar(
                select(Membership.role).where(
                    Membership.user_id == user.id, Membership.domain == invitation.domain
                )
            )
        if not await _inviter_still_may(session, invitation, held):
            invitation.revoked_at = now
            await record(
                session,
                Actor.system(),
                "invitation.void",
                domain=invitation.domain,
                object_type="invitation",
                object_id=invitation.id,
                detail={"reason": "the inviter may no longer grant the role"},
            )
            voided = True
        else:
            user = await _take_up(session, invitation, user, has_account, password, log2_n, now)
            voided = False
    if voided:  # the voiding committed, so the token stays dead
        raise NotFound(_GONE)
    assert user is not None
    return user


async def _take_up(
    session: AsyncSession,
    invitation: Invitation,
    user: User | None,
    has_account: bool,
    password: str | None,
    log2_n: int,
    now: datetime,
) -> User:
    """Create the account if needed and grant the role: the invitation is accepted."""
    if user is None:
        user = User(email=invitation.email, password_hash=None)
        session.add(user)
        await session.flush()
        await record(
            session,
            Actor("user", str(user.id)),
            "user.create",
            object_type="user",
            object_id=user.id,
            detail={"through": "invitation"},
        )
    if not has_account and password is not None:
        user.password_hash = passwords.hash_password(password, log2_n)
    actor = Actor("user", str(user.id))
    await grant_membership(
        session=session,
        user=user,
        domain=invitation.domain,
        role=invitation.role,
        actor=actor,
        granted_by=invitation.invited_by,
    )
    invitation.accepted_at = now
    invitation.user_id = user.id
    await record(
        session,
        actor,
        "invitation.accept",
        domain=invitation.domain,
        object_type="invitation",
        object_id=invitation.id,
    )
    return user
