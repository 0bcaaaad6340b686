"""Regulators (the government layer): accounts in ``gov:<division>`` domains."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth import service as auth_service
from backend.auth.authz import GOVERNMENT_ROLES, Authorizer
from backend.auth.models import User
from backend.auth.principal import Principal
from backend.core.errors import BadInput
from tenants.divisions import validate_division


def gov_domain(division_code: str) -> str:
    return f"gov:{division_code}"


async def create_regulator_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    division_code: str,
    email: str,
    password: str,
    role: str,
    log2_n: int,
) -> User:
    """A regulator account holding ``role`` over a division and everything inside it."""
    auth_service.require(authz, principal, "platform", "regulator", "create")
    division = validate_division(division_code)
    if role not in GOVERNMENT_ROLES:
        raise BadInput(
            f"unknown regulator role {role!r}; choose one of {', '.join(GOVERNMENT_ROLES)}"
        )
    actor = principal.actor("platform")
    async with sessions() as session, session.begin():
        user = await auth_service.create_user(
            session=session, email=email, password=password, actor=actor, log2_n=log2_n
        )
        await auth_service.grant_membership(
            session=session, user=user, domain=gov_domain(division), role=role, actor=actor
        )
    return user
