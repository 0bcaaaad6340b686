"""The GraphQL request context: who is asking, their scoped session, per-request loaders.

Defined in ``auth`` (a base layer) so every domain's ``schema.py`` can type its resolvers
without importing the API package that assembles them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.litestar import BaseContext

from backend.auth.principal import Principal
from backend.core.errors import Unauthenticated
from tenants.scope import scoped_session

if TYPE_CHECKING:
    from backend.runtime import Runtime

T = TypeVar("T")


class RequestContext(BaseContext, kw_only=True):
    runtime: Any  # Runtime; typed loosely because msgspec resolves annotations at runtime
    principal: Principal
    auth_error: str | None = None
    connection_params: dict[str, Any] | None = None  # graphql-transport-ws connection_init
    _session: AsyncSession | None = None
    _loaders: dict[str, Any] = {}  # noqa: RUF012 - msgspec copies mutable defaults

    @property
    def rt(self) -> Runtime:
        return self.runtime  # type: ignore[no-any-return]

    def require_user(self) -> Principal:
        if not self.principal.authenticated:
            raise Unauthenticated(
                self.auth_error or "sign in first: send Authorization: Bearer <token>"
            )
        return self.principal

    @property
    def session(self) -> AsyncSession:
        """One session per request, scoped to the caller."""
        if self._session is None:
            self._session = scoped_session(self.rt.sessions, self.principal.scope)
        return self._session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """The request session inside a transaction that commits when the block succeeds."""
        session = self.session
        if session.in_transaction():
            await session.commit()
        async with session.begin():
            yield session

    def loader(self, name: str, factory: Callable[[], T]) -> T:
        """A per-request loader (created on first use, so results never leak across requests)."""
        if name not in self._loaders:
            self._loaders[name] = factory()
        return self._loaders[name]  # type: ignore[no-any-return]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


Info = strawberry.Info[RequestContext, None]
