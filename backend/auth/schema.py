"""GraphQL: sign-in, the caller, invitations, members and accounts, and the provisioning of a
tenant with its owner account (``tenants/schema.py`` sits below auth and cannot create one)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated, Any

import strawberry
from litestar import Request, Response
from strawberry.scalars import JSON

from backend.auth import browser, invitations, members, password_reset, service
from backend.auth.context import Info
from backend.auth.mail_outbox import unscoped_relay_mail
from backend.auth.models import User
from backend.auth.permissions import IsAuthenticated
from backend.auth.principal import Principal
from backend.auth.provisioning import unscoped_provision_tenant_in_own_transaction
from backend.auth.throttle import client_address
from backend.core.errors import BadInput, NotFound
from privacy.audit import AuditEntry, EntryFilter
from tenants.schema import TenantType

log = logging.getLogger("anjian.auth")


@strawberry.type(description="A role held in a domain: tenant:<uuid>, gov:<division>, platform.")
class MembershipType:
    domain: str
    role: str


@strawberry.type(name="Me")
class MeType:
    id: strawberry.ID
    email: str
    memberships: list[MembershipType]

    @classmethod
    def of(cls, principal: Principal) -> MeType:
        return cls(
            id=strawberry.ID(str(principal.id)),
            email=principal.email or "",
            memberships=[MembershipType(domain=g.domain, role=g.role) for g in principal.grants],
        )


@strawberry.type
class LoginResult:
    token: str


@strawberry.type(description="A browser signed in: the session is in its HttpOnly cookie.")
class SignInResult:
    me: MeType


@strawberry.type(
    description=(
        "An invitation sent: the token went to the invitee by mail only. The answer is the "
        "same whether or not the address already has an account."
    )
)
class Invitation:
    email: str
    domain: str
    role: str
    expires_at: datetime


@strawberry.type(description="A member of a domain.")
class Member:
    user_id: strawberry.ID
    email: str
    domain: str
    role: str
    since: datetime
    disabled: bool = strawberry.field(description="The account is disabled platform-wide.")
    suspended: bool = strawberry.field(
        description="The membership is suspended in this domain: it grants nothing here."
    )

    @classmethod
    def of(cls, row: members.MemberRow) -> Member:
        return cls(
            user_id=strawberry.ID(str(row.user_id)),
            email=row.email,
            domain=row.domain,
            role=row.role,
            since=row.since,
            disabled=row.disabled,
            suspended=row.suspended,
        )


@strawberry.type(
    name="AuditActor",
    description="Who acted: kind user, device or system; for a user, the account's address "
    "and display name.",
)
class AuditActorType:
    kind: str
    id: strawberry.ID | None
    email: str | None
    name: str | None
    role: str | None
    tenant_id: strawberry.Private[uuid.UUID | None]


@strawberry.type(name="AuditEntry", description="One entry of the tenant's audit trail.")
class AuditEntryType:
    id: strawberry.ID = strawberry.field(description="The entry's number: the after cursor.")
    at: datetime
    action: str
    actor: AuditActorType
    object_type: str | None
    object_id: str | None
    detail: JSON
    tenant_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def of(
        cls, entry: AuditEntry, users: dict[str, User], tenant: uuid.UUID | None
    ) -> AuditEntryType:
        user = users.get(entry.actor_id or "")
        return cls(
            id=strawberry.ID(str(entry.seq)),
            at=entry.at,
            action=entry.action,
            actor=AuditActorType(
                kind=entry.actor_kind,
                id=None if entry.actor_id is None else strawberry.ID(entry.actor_id),
                email=None if user is None else user.email,
                name=None if user is None else user.display_name,
                role=entry.role,
                tenant_id=tenant,
            ),
            object_type=entry.object_type,
            object_id=entry.object_id,
            detail=entry.detail or {},
            tenant_id=tenant,
        )


def _seq(value: strawberry.ID | None) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        raise NotFound(f"audit entry {value} not found") from None


def _client_address(info: Info) -> str:
    """The caller's address from the Litestar request; X-Forwarded-For only from a proxy the
    settings trust (``ANJIAN_TRUSTED_PROXIES``)."""
    request = info.context.request
    peer = request.client.host if request is not None and request.client else None
    forwarded = request.headers.get("x-forwarded-for") if request is not None else None
    return client_address(peer, forwarded, info.context.rt.settings.trusted_proxies)


def _http_exchange(info: Info, operation: str) -> tuple[Request[Any, Any, Any], Response[Any]]:
    """The HTTP request and the response being built: a cookie is set on an HTTP answer, so
    the browser-session mutations refuse a WebSocket."""
    request, response = info.context.request, info.context.response
    if request is None or response is None:
        raise BadInput(f"{operation} works over HTTP POST /graphql only, not over a WebSocket")
    return request, response


def _user_id(value: strawberry.ID | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise BadInput(f"not a user id: {value!r}") from None


def _member_id(value: strawberry.ID, domain: str) -> uuid.UUID:
    """A member's id; one that is not an id names nobody in the domain."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"no such member of {domain}") from None


async def _send_mail_now(info: Info) -> None:
    """Hand the mail just committed to the broker. A failure here leaves it in the outbox for
    the server's relay loop: the change it announces has committed, so the caller is told
    of success either way."""
    rt = info.context.rt
    try:
        await unscoped_relay_mail(sessions=rt.sessions, deliver_mail=rt.jobs.deliver_mail)
    except Exception:
        log.exception("mail relay after a request failed; the relay loop retries it")


@strawberry.type
class AuthQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    def me(self, info: Info) -> MeType:
        return MeType.of(info.context.principal)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The members of a domain the caller may manage or read.",
    )
    async def members(self, info: Info, domain: str) -> list[Member]:
        rt = info.context.rt
        rows = await members.unscoped_list_members(
            sessions=rt.sessions, authz=rt.authz, principal=info.context.principal, domain=domain
        )
        return [Member.of(r) for r in rows]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The tenant's own audit trail, newest first, for its owner and safety "
        "managers: who read personal data, changed a threshold, a role or a permit, and when. "
        "action is exact or a family (membership.*); after is the last entry's id.",
    )
    async def audit_entries(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        action: str | None = None,
        actor_email: str | None = None,
        object_type: str | None = None,
        first: int = 50,
        after: strawberry.ID | None = None,
        tenant_id: strawberry.ID | None = None,
    ) -> list[AuditEntryType]:
        ctx = info.context
        page = await service.list_audit_entries(
            session=ctx.session,
            authz=ctx.rt.authz,
            principal=ctx.principal,
            where=EntryFilter(start=from_, end=to, action=action, object_type=object_type),
            actor_email=actor_email,
            tenant_id=_tenant_id(tenant_id),
            first=first,
            after=_seq(after),
        )
        return [AuditEntryType.of(e, page.users, page.tenant_id) for e in page.entries]


def _tenant_id(value: strawberry.ID | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"tenant {value} not found") from None


@strawberry.type
class AuthMutation:
    @strawberry.mutation
    async def login(self, info: Info, email: str, password: str) -> LoginResult:
        rt = info.context.rt
        token = await service.unscoped_login_in_own_transaction(
            sessions=rt.sessions,
            codec=rt.tokens,
            email=email,
            password=password,
            log2_n=rt.log2_n,
            client_address=_client_address(info),
            throttle=rt.login_throttle,
        )
        return LoginResult(token=token)

    @strawberry.mutation(
        description=(
            "Sign a browser in: the session token goes into the HttpOnly cookie anjian_session "
            "and into no answer. Needs the header X-Anjian-CSRF: 1; throttled like login."
        )
    )
    async def sign_in(self, info: Info, email: str, password: str) -> SignInResult:
        context = info.context
        rt = context.rt
        request, response = _http_exchange(info, "signIn")
        # Before the attempt is counted: a forged sign-in costs the victim nothing.
        browser.require_csrf_header(request.headers, browser.SIGN_IN_CSRF_MISSING)
        # The very sign-in of ``login``: its throttle, its uniform work, its errors.
        token = await service.unscoped_login_in_own_transaction(
            sessions=rt.sessions,
            codec=rt.tokens,
            email=email,
            password=password,
            log2_n=rt.log2_n,
            client_address=_client_address(info),
            throttle=rt.login_throttle,
        )
        principal = await service.unscoped_resolve_token(
            sessions=rt.sessions, codec=rt.tokens, authz=rt.authz, token=token
        )
        previous = browser.session_token_of(request)
        if previous is not None:
            # The cookie about to be replaced named a session nobody could use any more.
            await service.unscoped_end_session_in_own_transaction(
                sessions=rt.sessions, codec=rt.tokens, token=previous
            )
        secure = browser.is_tls(request, rt.settings.trusted_proxies)
        response.set_cookie(
            browser.session_cookie(token, max_age=rt.tokens.ttl_seconds, secure=secure)
        )
        # The answer is read by the account just signed in (its own data, shown as it is).
        context.principal, context.via, context.auth_error = principal, "cookie", None
        return SignInResult(me=MeType.of(principal))

    @strawberry.mutation(
        description=(
            "End this browser's session (the cookie's): revoked on the server, the cookie "
            "cleared. True also when there was none. API clients revoke tokens with logout."
        )
    )
    async def sign_out(self, info: Info) -> bool:
        rt = info.context.rt
        request, response = _http_exchange(info, "signOut")
        token = browser.session_token_of(request)
        if token is not None:
            # Also when a bearer authenticated the request: it is the cookie that is acted on.
            browser.require_csrf_header(request.headers)
            await service.unscoped_end_session_in_own_transaction(
                sessions=rt.sessions, codec=rt.tokens, token=token
            )
        secure = browser.is_tls(request, rt.settings.trusted_proxies)
        response.set_cookie(browser.cleared_cookie(secure=secure))
        return True

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Revoke the token this request was made with.",
    )
    async def logout(self, info: Info) -> bool:
        await service.revoke_token_in_own_transaction(
            sessions=info.context.rt.sessions, principal=info.context.principal
        )
        return True

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Change your password, giving the current one (throttled like signing in). Your "
            "other sessions end; this one stays."
        ),
    )
    async def change_password(self, info: Info, current: str, new: str) -> bool:
        rt = info.context.rt
        await service.unscoped_change_password_in_own_transaction(
            sessions=rt.sessions,
            principal=info.context.principal,
            current=current,
            new=new,
            log2_n=rt.log2_n,
            client_address=_client_address(info),
            throttle=rt.login_throttle,
        )
        return True

    @strawberry.mutation(
        description=(
            "Forgotten password: mails the address a link to the reset page of its portal "
            "(on ANJIAN_PUBLIC_URL, never the request's Host) with a token good once, for an "
            "hour. Always true, whether or not the address has an account; "
            "RATE_LIMITED when asked too often for one address or from one client."
        )
    )
    async def request_password_reset(self, info: Info, email: str) -> bool:
        rt = info.context.rt
        await password_reset.unscoped_request_password_reset(
            sessions=rt.sessions,
            keyring=rt.keyring,
            public_url=rt.settings.link_base,
            throttle=password_reset.reset_throttle(rt.login_throttle.clock),
            email=email,
            client_address=_client_address(info),
            send_mail=lambda: _send_mail_now(info),
        )
        return True

    @strawberry.mutation(
        description="Set a new password with the mailed reset token; every session ends."
    )
    async def reset_password(self, info: Info, token: str, password: str) -> bool:
        rt = info.context.rt
        await password_reset.unscoped_reset_password_in_own_transaction(
            sessions=rt.sessions,
            keyring=rt.keyring,
            token=token,
            password=password,
            log2_n=rt.log2_n,
            now=rt.login_throttle.now(),
        )
        return True

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Offer a role to an address; the mail links to the portal's accept-invitation page "
            "(on ANJIAN_PUBLIC_URL) with the token the invitee accepts with."
        ),
    )
    async def invite_user(self, info: Info, domain: str, email: str, role: str) -> Invitation:
        rt = info.context.rt
        sent = await invitations.unscoped_invite_user_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=info.context.principal,
            domain=domain,
            email=email,
            role=role,
            public_url=rt.settings.link_base,
        )
        await _send_mail_now(info)
        return Invitation(
            email=sent.email, domain=sent.domain, role=sent.role, expires_at=sent.expires_at
        )

    @strawberry.mutation(
        description=(
            "Accept an invitation with its mailed token: signed in as the invited account, or, "
            "for an address without an account, with the new account's password."
        )
    )
    async def accept_invitation(self, info: Info, token: str, password: str | None = None) -> bool:
        rt = info.context.rt
        await invitations.unscoped_accept_invitation_in_own_transaction(
            sessions=rt.sessions,
            principal=info.context.principal,
            token=token,
            password=password,
            log2_n=rt.log2_n,
        )
        return True

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Take a member's role in a domain away (by userId or email).",
    )
    async def remove_member(
        self,
        info: Info,
        domain: str,
        user_id: strawberry.ID | None = None,
        email: str | None = None,
    ) -> bool:
        rt = info.context.rt
        await members.unscoped_remove_member_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=info.context.principal,
            domain=domain,
            user_id=_user_id(user_id),
            email=email,
        )
        return True

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Give a member another role in a domain. The caller must be able to grant both the "
            "old and the new role; nobody changes their own role; the last owner stays owner."
        ),
    )
    async def change_member_role(
        self, info: Info, domain: str, user_id: strawberry.ID, role: str
    ) -> Member:
        rt = info.context.rt
        row = await members.unscoped_change_member_role_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=info.context.principal,
            domain=domain,
            user_id=_member_id(user_id, domain),
            role=role,
        )
        return Member.of(row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Suspend a member in a domain (enabled false: the membership grants nothing there; "
            "the account and its roles elsewhere stay) or enable it again with its role. The "
            "rules of changeMemberRole apply; the reason goes to the audit trail."
        ),
    )
    async def set_member_enabled(
        self,
        info: Info,
        domain: str,
        user_id: strawberry.ID,
        enabled: bool,
        reason: str | None = None,
    ) -> Member:
        rt = info.context.rt
        row = await members.unscoped_set_member_enabled_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=info.context.principal,
            domain=domain,
            user_id=_member_id(user_id, domain),
            enabled=enabled,
            reason=reason,
        )
        return Member.of(row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Disable an account: it cannot sign in, and its sessions end at once.",
    )
    async def disable_user(
        self, info: Info, user_id: strawberry.ID | None = None, email: str | None = None
    ) -> bool:
        rt = info.context.rt
        await members.unscoped_set_user_disabled_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=info.context.principal,
            disabled=True,
            user_id=_user_id(user_id),
            email=email,
        )
        return True

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="Enable an account.")
    async def enable_user(
        self, info: Info, user_id: strawberry.ID | None = None, email: str | None = None
    ) -> bool:
        rt = info.context.rt
        await members.unscoped_set_user_disabled_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=info.context.principal,
            disabled=False,
            user_id=_user_id(user_id),
            email=email,
        )
        return True


@strawberry.type
class ProvisioningMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_tenant(
        self,
        info: Info,
        name: str,
        division_code: str,
        industry: str,
        owner_email: str,
        owner_password: str,
        credit_code: str | None = None,
    ) -> TenantType:
        rt = info.context.rt
        tenant = await unscoped_provision_tenant_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=info.context.principal,
            name=name,
            division_code=division_code,
            industry=industry,
            owner_email=owner_email,
            owner_password=owner_password,
            credit_code=credit_code,
            log2_n=rt.log2_n,
        )
        return TenantType.of(tenant)
