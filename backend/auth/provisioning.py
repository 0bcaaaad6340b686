"""Provisioning: a tenant and its owner account, in one transaction.

The tenant is ``tenants``'; the account and its membership are ``auth``'s, which builds on
``tenants``, so the whole operation is composed here.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import check_password_strength, create_user, grant_membership
from tenants.models import Tenant
from tenants.scope import unscoped_session
from tenants.service import check_new_tenant, unscoped_create_tenant


async def unscoped_provision_tenant_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    name: str,
    division_code: str,
    industry: str,
    owner_email: str,
    owner_password: str,
    credit_code: str | None = None,
    log2_n: int,
) -> Tenant:
    """Create a tenant and its owner account; the platform administrator's operation. It is
    unscoped because it precedes the tenant's own scope: it creates it."""
    new = check_new_tenant(
        authz=authz,
        principal=principal,
        name=name,
        division_code=division_code,
        industry=industry,
        credit_code=credit_code,
    )
    check_password_strength(owner_password)
    actor = principal.actor("platform")

    async def create_owner(session: AsyncSession, domain: str) -> None:
        owner = await create_user(
            session=session, email=owner_email, password=owner_password, actor=actor, log2_n=log2_n
        )
        await grant_membership(
            session=session, user=owner, domain=domain, role="owner", actor=actor
        )

    async with unscoped_session(sessions) as session, session.begin():
        return await unscoped_create_tenant(
            session=session, principal=principal, tenant=new, create_owner=create_owner
        )
