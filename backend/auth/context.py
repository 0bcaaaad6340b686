"""The GraphQL request context: who is asking, their scoped session, per-request loaders.

Defined in ``auth`` (the layer that knows the principal) so every domain's ``schema.py`` can
type its resolvers without importing the API package that assembles them. It imports nothing
above ``auth``: the process's parts reach it as ``rt``, typed by ``Wiring`` (what resolvers use
of them), and the edges from a lower domain's type to a higher domain's (a site's sensors) are
callables the API fills in when it assembles the schema (``GraphEdges``). ``tenants/schema.py``
sits below ``auth`` and types its resolvers with a protocol of its own, which this context
satisfies.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader
from strawberry.litestar import BaseContext

from backend.auth.principal import Principal
from backend.core.errors import ConfigurationError, Unauthenticated
from tenants.scope import scoped_session

if TYPE_CHECKING:
    from backend.auth.authz import Authorizer
    from backend.auth.throttle import Throttle
    from backend.auth.tokens import TokenCodec
    from backend.core.clock import Clock
    from backend.core.settings import Settings
    from privacy.keyring import Keyring

T = TypeVar("T")
Row = TypeVar("Row")
K = TypeVar("K")
V = TypeVar("V")


class Wiring(Protocol):
    """What resolvers use of the process's wired parts (the app passes its runtime). The
    parts of layers above ``auth`` are typed ``Any`` so that nothing above is imported."""

    @property
    def settings(self) -> Settings: ...
    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def authz(self) -> Authorizer: ...
    @property
    def tokens(self) -> TokenCodec: ...
    @property
    def keyring(self) -> Keyring: ...
    @property
    def login_throttle(self) -> Throttle: ...
    @property
    def log2_n(self) -> int: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def clickhouse(self) -> Any: ...  # the telemetry store's client
    @property
    def mqtt_directory(self) -> Any: ...  # the MQTT broker's device directory, when there is one
    @property
    def alarm_broadcaster(self) -> Any: ...
    @property
    def jobs(self) -> Any: ...  # the job broker's actors


SiteSensors = Callable[["Info", uuid.UUID], Awaitable[Sequence[Any]]]
SiteHazardUnits = Callable[["Info", uuid.UUID], Awaitable[Sequence[Any]]]
AlarmSupervisions = Callable[["Info", uuid.UUID], Awaitable[Sequence[Any]]]


def _edge_not_assembled(*_args: object) -> Any:
    raise ConfigurationError("the schema assembler did not supply this edge")


@dataclass(frozen=True, kw_only=True)
class GraphEdges:
    """Fields of a lower domain's type whose data lives in a higher domain, resolved by a
    function the API supplies when it assembles the schema (so the lower domain imports
    nothing above it)."""

    site_sensors: SiteSensors = _edge_not_assembled
    site_hazard_units: SiteHazardUnits = _edge_not_assembled
    alarm_supervisions: AlarmSupervisions = _edge_not_assembled


class RequestContext(BaseContext, kw_only=True):
    runtime: Any  # a Wiring; typed loosely because msgspec resolves annotations at runtime
    principal: Principal
    auth_error: str | None = None
    via: str | None = None  # the credential the principal came from: "bearer", "cookie", None
    # Why the request must not run at all (a cookie without the CSRF header; the API's schema
    # extension answers it as FORBIDDEN before any resolver).
    refusal: str | None = None
    connection_params: dict[str, Any] | None = None  # graphql-transport-ws connection_init
    edges: Any = None  # GraphEdges, set by the API's schema extension before execution
    _session: AsyncSession | None = None
    _loaders: dict[str, Any] = {}  # noqa: RUF012 - msgspec copies mutable defaults
    _session_turn: Any = None  # asyncio.Lock, made on first use (inside the event loop)

    @property
    def rt(self) -> Wiring:
        return self.runtime  # type: ignore[no-any-return]

    @property
    def authz(self) -> Authorizer:
        return self.rt.authz

    def require_user(self) -> Principal:
        if not self.principal.authenticated:
            raise Unauthenticated(
                self.auth_error
                or "sign in first: send Authorization: Bearer <token>, or sign in with signIn"
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

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """One query at a time on the request's session. Sibling fields resolve concurrently,
        and their loaders dispatch in the same tick; an AsyncSession takes one operation at a
        time (after a mutation's commit two loaders would both provision its connection)."""
        if self._session_turn is None:
            self._session_turn = asyncio.Lock()
        async with self._session_turn:
            yield

    def loader(self, name: str, factory: Callable[[], T]) -> T:
        """A per-request loader (created on first use, so results never leak across requests)."""
        if name not in self._loaders:
            self._loaders[name] = factory()
        return self._loaders[name]  # type: ignore[no-any-return]

    def keyed_loader(
        self, name: str, fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]], *, missing: V
    ) -> DataLoader[K, V]:
        """The per-request loader ``name`` over a batch query that answers a mapping by key;
        a key the mapping lacks gets ``missing``. ``fetch`` runs holding the session's turn:
        it queries the session itself and never waits on another loader."""

        async def load(keys: list[K]) -> list[V]:
            async with self._turn():
                found = await fetch(keys)
            return [found.get(key, missing) for key in keys]

        return self.loader(name, lambda: DataLoader(load_fn=load))

    def rows_by_id(self, model: type[Row]) -> DataLoader[uuid.UUID, Row | None]:
        """The per-request loader of ``model`` rows by primary key, through the scoped session:
        ``None`` for an id that is missing or out of scope."""

        async def load(keys: list[uuid.UUID]) -> list[Row | None]:
            column = model.id  # type: ignore[attr-defined]
            async with self._turn():
                rows = (await self.session.scalars(select(model).where(column.in_(keys)))).all()
            found = {row.id: row for row in rows}  # type: ignore[attr-defined]
            return [found.get(key) for key in keys]

        return self.loader(f"{model.__name__}-by-id", lambda: DataLoader(load_fn=load))

    @property
    def site_sensors(self) -> SiteSensors:
        return (self.edges or GraphEdges()).site_sensors  # type: ignore[no-any-return]

    @property
    def site_hazard_units(self) -> SiteHazardUnits:
        return (self.edges or GraphEdges()).site_hazard_units  # type: ignore[no-any-return]

    @property
    def alarm_supervisions(self) -> AlarmSupervisions:
        return (self.edges or GraphEdges()).alarm_supervisions  # type: ignore[no-any-return]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


Info = strawberry.Info[RequestContext, None]
