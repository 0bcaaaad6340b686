"""The tenant scope and the session guard that enforces it.

A scope says whose rows a unit of work may touch: whole tenants (an enterprise member, a
device) and jurisdictions (a regulator: the sites whose division code falls inside, and the
tenant rows of the companies owning them). Every ORM query on a tenant-owned class gets the
scope's criterion added here; an insert gets its ``tenant_id`` stamped and checked. A session
without a scope refuses tenant-owned queries, unless opened by an explicit ``unscoped_*``
function. On PostgreSQL the same tenant set goes into a transaction-local setting that
row-level security policies read, so a query that escapes this guard still sees nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, event, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from backend.core.db import Base, SiteOwned, TenantOwned
from backend.core.errors import ScopeRequired
from tenants.divisions import division_prefix
from tenants.models import Site

SCOPE_KEY = "anjian.scope"
UNSCOPED_KEY = "anjian.unscoped"


@dataclass(frozen=True)
class Scope:
    """Whose data a unit of work may touch. Built from the principal, never from input."""

    tenant_ids: frozenset[uuid.UUID] = frozenset()
    # Jurisdiction division codes (``gov:<code>`` domains) and the tenants owning a site there.
    jurisdictions: frozenset[str] = frozenset()
    jurisdiction_tenant_ids: frozenset[uuid.UUID] = field(default=frozenset())

    @classmethod
    def for_tenant(cls, tenant_id: uuid.UUID) -> Scope:
        return cls(tenant_ids=frozenset({tenant_id}))

    @property
    def all_tenant_ids(self) -> frozenset[uuid.UUID]:
        return self.tenant_ids | self.jurisdiction_tenant_ids

    @property
    def empty(self) -> bool:
        return not self.tenant_ids and not self.jurisdictions

    def sees_site(self, tenant_id: uuid.UUID, division_code: str) -> bool:
        if tenant_id in self.tenant_ids:
            return True
        return any(division_code.startswith(division_prefix(j)) for j in self.jurisdictions)


def site_visibility(scope: Scope) -> ColumnElement[bool]:
    """SQL for "this site is in scope"; shared by the session guard and explicit queries."""
    whole = Site.tenant_id.in_(scope.tenant_ids)
    if not scope.jurisdictions:
        return whole
    inside = _inside(scope.jurisdictions)
    return or_(whole, and_(Site.tenant_id.in_(scope.jurisdiction_tenant_ids), inside))


def _inside(jurisdictions: frozenset[str]) -> ColumnElement[bool]:
    return or_(*(Site.division_code.startswith(division_prefix(j)) for j in sorted(jurisdictions)))


def _criterion(cls: type[Any], scope: Scope) -> ColumnElement[bool]:
    if cls is Site:
        return site_visibility(scope)
    if issubclass(cls, SiteOwned):
        if not scope.jurisdictions:
            return cls.tenant_id.in_(scope.tenant_ids)
        return or_(
            cls.tenant_id.in_(scope.tenant_ids),
            cls.site_id.in_(select(Site.id).where(site_visibility(scope))),
        )
    return cls.tenant_id.in_(scope.all_tenant_ids)


_owned: tuple[int, tuple[type[TenantOwned], ...]] = (-1, ())


def tenant_owned_classes() -> tuple[type[TenantOwned], ...]:
    """Every mapped tenant-owned class; recomputed only when a model module is imported."""
    global _owned
    mappers = Base.registry.mappers
    if _owned[0] != len(mappers):
        classes = tuple(m.class_ for m in mappers if issubclass(m.class_, TenantOwned))
        _owned = (len(mappers), classes)
    return _owned[1]


@event.listens_for(Session, "do_orm_execute")
def _scope_orm_statements(state: ORMExecuteState) -> None:
    if state.is_column_load or state.is_relationship_load:
        return  # the parent row was already scoped
    if not (state.is_select or state.is_update or state.is_delete):
        return
    session = state.session
    if session.info.get(UNSCOPED_KEY):
        return
    owned = [m.class_ for m in state.all_mappers if issubclass(m.class_, TenantOwned)]
    if not owned:
        return
    scope: Scope | None = session.info.get(SCOPE_KEY)
    if scope is None:
        names = ", ".join(sorted(c.__name__ for c in owned))
        raise ScopeRequired(f"query on tenant-owned {names} without a tenant scope")
    # Criteria for every tenant-owned class, so joins and subqueries are covered too.
    state.statement = state.statement.options(
        *(
            with_loader_criteria(cls, _criterion(cls, scope), include_aliases=True)
            for cls in tenant_owned_classes()
        )
    )


def _writable(obj: TenantOwned, scope: Scope) -> bool:
    """A row the scope may write: its own tenants' rows, and rows of the site-owned classes
    regulators write (``__regulator_writes__``: rectification notices) of the tenants owning a
    site in its jurisdiction. The service checks the site itself is in the jurisdiction; the
    composite foreign key keeps the row on a site of its tenant."""
    if obj.tenant_id in scope.tenant_ids:
        return True
    return (
        isinstance(obj, SiteOwned)
        and getattr(type(obj), "__regulator_writes__", False)
        and obj.tenant_id in scope.jurisdiction_tenant_ids
    )


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, _context: object, _instances: object) -> None:
    if session.info.get(UNSCOPED_KEY):
        return
    for obj in session.new:
        if not isinstance(obj, TenantOwned):
            continue
        scope: Scope | None = session.info.get(SCOPE_KEY)
        if scope is None:
            raise ScopeRequired(f"insert of {type(obj).__name__} without a tenant scope")
        if obj.tenant_id is None:
            if len(scope.tenant_ids) != 1:
                raise ScopeRequired(
                    f"insert of {type(obj).__name__}: the scope does not name one tenant"
                )
            obj.tenant_id = next(iter(scope.tenant_ids))
        elif not _writable(obj, scope):
            raise ScopeRequired(f"insert of {type(obj).__name__} into a tenant out of scope")
    for obj in session.dirty:
        if isinstance(obj, TenantOwned):
            scope = session.info.get(SCOPE_KEY)
            if scope is None or not _writable(obj, scope):
                raise ScopeRequired(f"update of {type(obj).__name__} in a tenant out of scope")


@event.listens_for(Session, "after_begin")
def _set_rls_scope(session: Session, _transaction: object, connection: Any) -> None:
    if connection.dialect.name != "postgresql":
        return
    scope: Scope | None = session.info.get(SCOPE_KEY)
    ids = "" if scope is None else ",".join(str(t) for t in sorted(scope.all_tenant_ids))
    connection.execute(
        text(
            "SELECT set_config('anjian.tenant_ids', :ids, true), "
            "set_config('anjian.unscoped', :unscoped, true)"
        ),
        {"ids": ids, "unscoped": "on" if session.info.get(UNSCOPED_KEY) else "off"},
    )


def scoped_session(maker: async_sessionmaker[AsyncSession], scope: Scope) -> AsyncSession:
    session = maker()
    session.info[SCOPE_KEY] = scope
    return session


def unscoped_session(maker: async_sessionmaker[AsyncSession]) -> AsyncSession:
    """A session that sees every tenant. Only ``unscoped_*`` functions open one."""
    session = maker()
    session.info[UNSCOPED_KEY] = True
    return session


async def unscoped_jurisdiction_tenants(
    *, session: AsyncSession, jurisdictions: frozenset[str]
) -> frozenset[uuid.UUID]:
    """The tenants owning a site inside any of ``jurisdictions`` (a regulator's reach)."""
    if not session.info.get(UNSCOPED_KEY):
        raise ScopeRequired("jurisdiction look-up needs an unscoped session")
    if not jurisdictions:
        return frozenset()
    rows = await session.scalars(select(Site.tenant_id).where(_inside(jurisdictions)).distinct())
    return frozenset(rows)
