"""Sealed ORM attributes: plaintext on the instance, ciphertext in the column, sealed at
flush and opened on first access without I/O (the package docstring says how)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Generic, TypeVar, cast, overload

from sqlalchemy import ColumnElement, Connection, event, false
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, ORMExecuteState, QueryContext, Session, object_session
from sqlalchemy.orm.attributes import flag_dirty
from sqlalchemy.orm.base import instance_state

from backend.core.db import TenantOwned
from backend.core.errors import BadInput, ConfigurationError
from privacy.crypto._binding import bound_store, transaction_keys
from privacy.crypto._cipher import blind_index, field_aad, sealed_version
from privacy.crypto._errors import (
    CiphertextInvalid,
    KeyNotLoaded,
    Owner,
    SealedFieldMisuse,
)
from privacy.crypto._keys import NoIndexKey, RowSealer, TransactionKeys

T = TypeVar("T", bound=str | None)
_PLAIN = "_anjian_plain"  # field -> (ciphertext the plaintext belongs to, or _UNSEALED; text)
_PINNED = "_anjian_keys"  # the transaction keys the instance was loaded or written with
_UNSEALED = object()
_WANTED = "anjian.wanted_keys"  # key versions loaded rows name that no one has fetched


def _lower_stripped(value: str) -> str:
    return value.strip().lower()


class Sealed(Generic[T]):
    """A plaintext attribute over an encrypted column (``Sealed[str]("name_enc")``).

    ``index`` names a column that receives the blind index of the normalised value, for
    look-ups with ``await Model.field.matches(session, value)``.
    """

    def __init__(
        self,
        column: str,
        *,
        index: str | None = None,
        normalise: Callable[[str], str] = _lower_stripped,
    ) -> None:
        self.column = column
        self.index = index
        self.normalise = normalise
        self.name = column
        self.owner: type[Any] = object

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name
        self.owner = owner
        owner.__sealed_fields__ = (*getattr(owner, "__sealed_fields__", ()), self)

    @property
    def purpose(self) -> str:
        return f"{self.owner.__tablename__}.{self.name}"

    @overload
    def __get__(self, obj: None, objtype: type[Any] | None = None) -> Sealed[T]: ...

    @overload
    def __get__(self, obj: object, objtype: type[Any] | None = None) -> T: ...

    def __get__(self, obj: object | None, objtype: type[Any] | None = None) -> Sealed[T] | T:
        if obj is None:
            return self
        plain: dict[str, tuple[Any, str | None]] = obj.__dict__.setdefault(_PLAIN, {})
        entry = plain.get(self.name)
        if entry is not None and entry[0] is _UNSEALED:
            return cast(T, entry[1])
        blob: bytes | None = getattr(obj, self.column)
        if entry is not None and entry[0] == blob:
            return cast(T, entry[1])
        if blob is None:
            return cast(T, None)
        value = self._open(obj, blob)
        plain[self.name] = (blob, value)
        return cast(T, value)

    def __set__(self, obj: object, value: T) -> None:
        if value is not None and not isinstance(value, str):
            raise SealedFieldMisuse(f"{self.name} takes a str, not {type(value).__name__}")
        obj.__dict__.setdefault(_PLAIN, {})[self.name] = (_UNSEALED, value)
        flag_dirty(obj)  # so the flush visits the row even when no column changed

    def _open(self, obj: Any, blob: bytes) -> str:
        owner = _owner_of(obj)
        keys: TransactionKeys | None = obj.__dict__.get(_PINNED)
        if keys is None:
            session = object_session(obj)
            if session is None:
                raise KeyNotLoaded(f"{self.purpose} of a detached row that was never loaded")
            keys = transaction_keys(session)
        ref = (owner, sealed_version(blob))
        return keys.open(ref, blob, field_aad(self.owner.__tablename__, self.name, owner, obj.id))

    async def matches(
        self, session: AsyncSession, value: str, owner: Owner = None
    ) -> ColumnElement[bool]:
        """The criterion "this field equals ``value``", through the blind index."""
        if self.index is None:
            raise SealedFieldMisuse(f"{self.purpose} has no blind index to look values up by")

        def digest(sync_session: Session) -> bytes | None:
            keys = transaction_keys(sync_session)
            try:
                key = keys.index_key(sync_session.connection(), owner, self.purpose, create=False)
            except NoIndexKey:
                return None  # no key yet, so no value was ever stored
            return blind_index(key, self.normalise(value))

        found = await session.run_sync(digest)
        if found is None:
            return false()
        return cast(ColumnElement[bool], getattr(self.owner, self.index) == found)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sealed):
            return self is other
        # Comparing the descriptor with a value would silently be False and match no row.
        raise SealedFieldMisuse(
            f"{self.purpose} is encrypted at rest; filter with "
            f"`await {self.owner.__name__}.{self.name}.matches(session, value)`"
        )

    __hash__ = object.__hash__


class SealedRecord:
    """Mixed into a model with ``Sealed`` attributes (and an ``id`` primary key)."""

    __sealed_fields__: ClassVar[tuple[Sealed[Any], ...]] = ()


def _owner_of(obj: Any) -> Owner:
    if not isinstance(obj, TenantOwned):
        return None
    tenant_id = obj.__dict__.get("tenant_id")
    if tenant_id is None:
        raise BadInput(f"a {type(obj).__name__} row needs its tenant before sealed values are")
    return cast(uuid.UUID, tenant_id)


@event.listens_for(SealedRecord, "before_insert", propagate=True)
@event.listens_for(SealedRecord, "before_update", propagate=True)
def _seal_on_flush(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    fields = type(target).__sealed_fields__
    state = instance_state(target)
    if state.key is not None and any(target.__dict__.get(f.column) for f in fields):
        for bound in ("id", "tenant_id"):
            if bound in state.attrs and state.attrs[bound].history.has_changes():
                raise BadInput(
                    f"a {type(target).__name__} cannot change its {bound}: its encrypted "
                    "values are bound to the row and its tenant"
                )
    plain: dict[str, tuple[Any, str | None]] = target.__dict__.get(_PLAIN, {})
    pending = [f for f in fields if f.name in plain and plain[f.name][0] is _UNSEALED]
    if not pending:
        return
    session = object_session(target)
    if session is None:
        raise ConfigurationError("a sealed row is flushed outside a session")
    keys = transaction_keys(session)
    if target.id is None:
        target.id = uuid.uuid4()  # the ciphertext is bound to the id, so it is fixed first
    owner = _owner_of(target)
    sealer = RowSealer(keys, connection)
    table = mapper.local_table.name  # type: ignore[attr-defined]
    for field in pending:
        value = plain[field.name][1]
        blob = None if value is None else sealer.seal(table, field.name, owner, target.id, value)
        setattr(target, field.column, blob)
        plain[field.name] = (blob, value)
        if field.index is not None:
            digest = (
                None
                if value is None
                else sealer.index(owner, field.purpose, field.normalise(value))
            )
            setattr(target, field.index, digest)
    target.__dict__[_PINNED] = keys


def _note_loaded(session: Session, target: Any) -> None:
    """Pin the session's keys on a loaded row and note the key versions it still lacks."""
    if bound_store(session) is None:
        return  # reading a sealed field later says which factory to use
    keys = transaction_keys(session)
    target.__dict__[_PINNED] = keys
    owner = None
    if isinstance(target, TenantOwned):
        owner = target.__dict__.get("tenant_id")
        if owner is None:
            return
    for field in type(target).__sealed_fields__:
        blob = target.__dict__.get(field.column)
        if not blob:
            continue
        try:
            ref = (owner, sealed_version(blob))
        except CiphertextInvalid:
            continue  # reported when the field is read
        if not keys.is_destroyed(ref) and keys.key(ref) is None:
            session.info.setdefault(_WANTED, set()).add(ref)


@event.listens_for(SealedRecord, "load", propagate=True)
def _on_load(target: Any, context: QueryContext) -> None:
    _note_loaded(context.session, target)


@event.listens_for(SealedRecord, "refresh", propagate=True)
def _on_refresh(target: Any, context: QueryContext | None, _attrs: Iterable[str] | None) -> None:
    # An ORM ``update()`` that writes its values into rows already loaded refreshes them
    # without a query context; the row's own session is the one it was loaded in.
    session = context.session if context is not None else object_session(target)
    if session is not None:
        _note_loaded(session, target)


@event.listens_for(Session, "do_orm_execute")
def _fetch_keys_of_loaded_rows(state: ORMExecuteState) -> Any:
    """Rows are loaded inside the transaction, so the keys they name can be fetched before
    the caller reads a field (which must not do I/O under asyncio)."""
    session = state.session
    if not state.is_select or bound_store(session) is None:
        return None
    if not any(issubclass(m.class_, SealedRecord) for m in state.all_mappers):
        return None
    options = state.execution_options
    if options.get("yield_per") or options.get("stream_results"):
        return None
    frozen = state.invoke_statement().freeze()
    wanted = session.info.pop(_WANTED, None)
    if wanted:
        transaction_keys(session).load(session.connection(), wanted)
    return frozen()
