"""GraphQL: sign-in, the caller, invitations."""

from __future__ import annotations

import strawberry

from backend.auth import service
from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated


@strawberry.type(description="A role held in a domain: tenant:<uuid>, gov:<division>, platform.")
class MembershipType:
    domain: str
    role: str


@strawberry.type(name="Me")
class MeType:
    id: strawberry.ID
    email: str
    memberships: list[MembershipType]


@strawberry.type
class LoginResult:
    token: str


@strawberry.type
class Invitation:
    user_id: strawberry.ID
    email: str
    domain: str
    role: str
    token: str = strawberry.field(description="One-time token for acceptInvitation; also e-mailed.")


@strawberry.type
class AuthQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    def me(self, info: Info) -> MeType:
        principal = info.context.principal
        return MeType(
            id=strawberry.ID(str(principal.id)),
            email=principal.email or "",
            memberships=[MembershipType(domain=g.domain, role=g.role) for g in principal.grants],
        )


@strawberry.type
class AuthMutation:
    @strawberry.mutation
    async def login(self, info: Info, email: str, password: str) -> LoginResult:
        rt = info.context.rt
        token = await service.login(
            rt.sessions, rt.tokens, email=email, password=password, log2_n=rt.log2_n
        )
        return LoginResult(token=token)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Revoke the token this request was made with.",
    )
    async def logout(self, info: Info) -> bool:
        await service.revoke_token(info.context.rt.sessions, info.context.principal)
        return True

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def invite_user(self, info: Info, domain: str, email: str, role: str) -> Invitation:
        rt = info.context.rt
        user, token = await service.invite_user(
            rt.sessions,
            rt.authz,
            info.context.principal,
            domain=domain,
            email=email,
            role=role,
            log2_n=rt.log2_n,
        )
        rt.jobs.deliver_mail.send(
            user.email,
            "安监平台邀请 / Anjian invitation",
            f"您已被邀请以 {role} 角色加入 {domain}。\nYou are invited as {role} in {domain}.\n"
            f"Token: {token}",
            f"invitation:{token[:16]}",
        )
        return Invitation(
            user_id=strawberry.ID(str(user.id)),
            email=user.email,
            domain=domain,
            role=role,
            token=token,
        )

    @strawberry.mutation
    async def accept_invitation(self, info: Info, token: str, password: str) -> bool:
        rt = info.context.rt
        await service.accept_invitation(
            rt.sessions, token=token, password=password, log2_n=rt.log2_n
        )
        return True
