"""Encryption at rest: sealed columns under per-tenant data keys wrapped by the master keyring.

Envelope
    Each tenant has random 256-bit data keys (versions 1, 2, …) stored in ``tenant_data_keys``
    wrapped with AES-256-GCM under a key that HKDF derives from one master keyring version
    (the row records which). Users' e-mail addresses are platform data, sealed the same way
    under ``platform_data_keys``. ``rotate_data_keys`` re-wraps every live data key under the
    newest master version and issues a new data-key version per owner: new writes use the new
    key while older ciphertexts keep naming the version they were sealed under.

Ciphertext
    ``format (1 byte) | data-key version (4 bytes, big-endian) | nonce (12 random bytes) |
    AES-256-GCM ciphertext and tag``. The associated data is the header plus
    ``table.field | owner | row id`` (owner ``tenant:<uuid>`` or ``platform``), so a value
    copied into another column, row or tenant fails authentication instead of decrypting.

Blind index
    Look-ups by an encrypted value (sign-in by e-mail) compare an HMAC-SHA256 of the normalised
    value. Its key is derived from the owner's data key *version 1*, whose value never changes:
    a master rotation re-wraps that key without altering it, so indexes stay valid with no
    recomputation and an ordinary unique constraint keeps enforcing uniqueness.

Crypto-shredding
    ``destroy_tenant_key`` erases the wrapped material of every version of a tenant's data key
    and leaves tombstones, so no new key is issued for it; its sealed columns then raise
    ``DataKeyDestroyed`` while other tenants read as before. PostgreSQL keeps dead row versions
    until VACUUM and backups keep what they copied: both must age out for the erasure to be
    complete.

ORM
    A model mixes in ``SealedRecord`` and declares ``name = Sealed[str]("name_enc")`` beside
    its ``name_enc`` column. Assigning plaintext keeps it on the instance and seals it at
    flush, in the mapper's before-insert/update events, which know the row's tenant and id.
    Reading decrypts on first access, without I/O: after every ORM SELECT of a sealed class the
    rows are buffered and the keys they name are fetched in the same transaction (on
    PostgreSQL row-level security limits that to the session's tenants). Rows streamed with
    ``yield_per`` skip that step and read only keys already cached. The key store is bound to a
    session factory (``bind_key_store``), not to the process: one process may hold several.

Caches
    Unwrapped keys stay in the store's bounded LRU for ``ttl_seconds``. Destruction and
    rotation clear it in their own process at once and in other processes within the TTL
    (the keyring file is re-read then too, or at once for an unknown master version). A key
    that a transaction creates, rotates or destroys is kept to that session until it commits,
    so a rolled-back change can never reach the shared cache.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, cast, overload

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    Connection,
    Insert,
    LargeBinary,
    Table,
    UniqueConstraint,
    event,
    false,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import (
    Mapped,
    Mapper,
    ORMExecuteState,
    QueryContext,
    Session,
    mapped_column,
    object_session,
)
from sqlalchemy.orm.attributes import flag_dirty
from sqlalchemy.orm.base import instance_state

from backend.core.db import Base, TenantOwned, utcnow
from backend.core.errors import AnjianError, BadInput, ConfigurationError, Conflict, Gone
from privacy.audit import Actor, record
from privacy.keyring import Keyring, load_keyring

Owner = uuid.UUID | None  # a tenant, or None for platform data
KeyRef = tuple[Owner, int]  # (owner, data-key version)

FORMAT = 1
_HEADER = struct.Struct(">BI")
_NONCE = 12
_TAG = 16
_WRAP_PURPOSE = "data-key-wrap"


# --- errors ----------------------------------------------------------------------------------


class SealedDataError(AnjianError):
    """A sealed value cannot be read."""


class DataKeyDestroyed(SealedDataError, Gone):
    code = "DATA_ERASED"

    def __init__(self, owner: Owner) -> None:
        super().__init__(
            f"数据已销毁，无法读取 / the data key of {owner_label(owner)} was destroyed "
            "(crypto-shredded); its encrypted values can no longer be read or written",
            owner=owner_label(owner),
        )


class CiphertextInvalid(SealedDataError):
    code = "DATA_INTEGRITY"


class KeyNotLoaded(SealedDataError):
    """Rows read without the key fetch (streamed) whose key is not cached."""


# --- primitives ------------------------------------------------------------------------------


def owner_label(owner: Owner) -> str:
    return "platform" if owner is None else f"tenant:{owner}"


def field_aad(table: str, field: str, owner: Owner, row_id: uuid.UUID) -> bytes:
    """What a sealed value is bound to: its column, its row and its owner."""
    return f"anjian/field|{table}.{field}|{owner_label(owner)}|{row_id}".encode()


def seal(key: bytes, version: int, plaintext: bytes, aad: bytes) -> bytes:
    header = _HEADER.pack(FORMAT, version)
    nonce = os.urandom(_NONCE)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def sealed_version(blob: bytes) -> int:
    """The data-key version a ciphertext names (its header is authenticated on opening)."""
    if len(blob) < _HEADER.size + _NONCE + _TAG:
        raise CiphertextInvalid("密文不完整 / the ciphertext is truncated")
    fmt, version = _HEADER.unpack_from(blob)
    if fmt != FORMAT:
        raise CiphertextInvalid(f"未知的密文格式 / unknown ciphertext format {fmt}")
    return int(version)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes:
    sealed_version(blob)
    header, nonce = blob[: _HEADER.size], blob[_HEADER.size : _HEADER.size + _NONCE]
    try:
        return AESGCM(key).decrypt(nonce, blob[_HEADER.size + _NONCE :], header + aad)
    except InvalidTag:
        raise CiphertextInvalid(
            "密文校验失败 / the encrypted value fails its integrity check: it was altered or "
            "moved from another row, column or tenant"
        ) from None


def _wrap_aad(owner: Owner, version: int) -> bytes:
    return f"anjian/data-key|{owner_label(owner)}|{version}".encode()


def wrap_data_key(wrapping_key: bytes, data_key: bytes, owner: Owner, version: int) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(wrapping_key).encrypt(nonce, data_key, _wrap_aad(owner, version))


def unwrap_data_key(wrapping_key: bytes, wrapped: bytes, owner: Owner, version: int) -> bytes:
    try:
        key = AESGCM(wrapping_key).decrypt(
            wrapped[:_NONCE], wrapped[_NONCE:], _wrap_aad(owner, version)
        )
    except InvalidTag:
        raise ConfigurationError(
            f"data key {version} of {owner_label(owner)} cannot be unwrapped: the keyring does "
            "not belong to this database, or the key row was altered"
        ) from None
    if len(key) != 32:
        raise ConfigurationError(f"data key {version} of {owner_label(owner)} is not 256 bits")
    return key


def index_key(data_key: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=f"anjian/blind-index/{purpose}".encode(),
    ).derive(data_key)


def blind_index(key: bytes, value: str) -> bytes:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(value.encode())
    return mac.finalize()


# --- where the wrapped keys live -------------------------------------------------------------


class TenantDataKey(TenantOwned, Base):
    """One version of a tenant's data key, wrapped; a destroyed version keeps only its tombstone."""

    __tablename__ = "tenant_data_keys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "version"),
        CheckConstraint(
            "(destroyed_at IS NULL AND wrapped_key IS NOT NULL AND master_version IS NOT NULL)"
            " OR (destroyed_at IS NOT NULL AND wrapped_key IS NULL)",
            name="key_material",
        ),
    )

    version: Mapped[int]
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_version: Mapped[int | None]
    destroyed_at: Mapped[datetime | None]


class PlatformDataKey(Base):
    """One version of the platform's data key (users' e-mail addresses), wrapped."""

    __tablename__ = "platform_data_keys"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


_TENANT_KEYS = cast(Table, TenantDataKey.__table__)
_PLATFORM_KEYS = cast(Table, PlatformDataKey.__table__)
_IN_CHUNK = 500


@dataclass(frozen=True)
class _KeyRow:
    owner: Owner
    version: int
    wrapped: bytes | None
    master_version: int | None
    destroyed: bool


def _tenant_rows(conn: Connection, where: Any, *, for_update: bool = False) -> list[_KeyRow]:
    t = _TENANT_KEYS
    query = select(t.c.tenant_id, t.c.version, t.c.wrapped_key, t.c.master_version)
    query = query.add_columns(t.c.destroyed_at.is_not(None)).where(where)
    if for_update:
        query = query.with_for_update()
    return [_KeyRow(o, v, w, m, bool(d)) for o, v, w, m, d in conn.execute(query)]


def _platform_rows(conn: Connection, *, for_update: bool = False) -> list[_KeyRow]:
    p = _PLATFORM_KEYS
    query = select(p.c.version, p.c.wrapped_key, p.c.master_version)
    if for_update:
        query = query.with_for_update()
    return [_KeyRow(None, v, w, m, False) for v, w, m in conn.execute(query)]


def _key_rows(conn: Connection, owners: Collection[Owner]) -> list[_KeyRow]:
    tenants = sorted(o for o in owners if o is not None)
    rows: list[_KeyRow] = []
    for start in range(0, len(tenants), _IN_CHUNK):
        chunk = tenants[start : start + _IN_CHUNK]
        rows += _tenant_rows(conn, _TENANT_KEYS.c.tenant_id.in_(chunk))
    if None in owners:
        rows += _platform_rows(conn)
    return rows


def _all_key_rows(conn: Connection, *, for_update: bool = False) -> list[_KeyRow]:
    return _tenant_rows(conn, true(), for_update=for_update) + _platform_rows(
        conn, for_update=for_update
    )


def _insert_key(
    conn: Connection,
    owner: Owner,
    version: int,
    wrapped: bytes | None,
    master_version: int | None,
    *,
    destroyed: bool = False,
) -> bool:
    """Insert one key version unless it exists; whether this call inserted it."""
    now = utcnow()
    values: dict[str, Any] = {
        "version": version,
        "wrapped_key": wrapped,
        "master_version": master_version,
        "created_at": now,
    }
    if owner is None:
        table, conflict = _PLATFORM_KEYS, ["version"]
    else:
        table, conflict = _TENANT_KEYS, ["tenant_id", "version"]
        values |= {
            "id": uuid.uuid4(),
            "tenant_id": owner,
            "destroyed_at": now if destroyed else None,
        }
    statement: Insert
    if conn.dialect.name == "postgresql":
        statement = (
            postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=conflict)
        )
    elif conn.dialect.name == "sqlite":
        statement = (
            sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=conflict)
        )
    else:
        raise ConfigurationError(f"data keys are not supported on {conn.dialect.name}")
    # RETURNING, not rowcount: drivers do not all report a row count for an upsert.
    return conn.execute(statement.returning(table.c.version)).first() is not None


# --- the key store: master keyring, unwrapping, the process cache ----------------------------


class KeyStore:
    """Unwraps data keys with the master keyring and caches them for the process."""

    def __init__(
        self,
        keyring: Keyring,
        keyring_path: Path | None = None,
        *,
        capacity: int = 4096,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or ttl_seconds <= 0:
            raise ConfigurationError("the key cache needs a positive capacity and lifetime")
        self._keyring = keyring
        self._path = keyring_path
        self._keyring_read_at = clock()
        self._capacity = capacity
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: OrderedDict[KeyRef, tuple[bytes, float]] = OrderedDict()
        self._current: dict[Owner, tuple[int, float]] = {}
        self._wrapping: dict[int, bytes] = {}

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def reload_keyring(self) -> Keyring:
        """Re-read the keyring file: another process may have rotated it."""
        if self._path is not None:
            keyring = load_keyring(self._path, create=False)
            with self._lock:
                self._keyring = keyring
                self._keyring_read_at = self._clock()
        return self._keyring

    def _wrapping_key(self, master_version: int) -> bytes:
        with self._lock:
            found = self._wrapping.get(master_version)
        if found is not None:
            return found
        keyring = self._keyring
        if not keyring.has(master_version):
            keyring = self.reload_keyring()
        if not keyring.has(master_version):
            raise ConfigurationError(
                f"a data key is wrapped under master key version {master_version}, which the "
                "keyring does not hold; restore the keyring file that has it"
            )
        derived = keyring.derive(_WRAP_PURPOSE, master_version)
        with self._lock:
            self._wrapping[master_version] = derived
        return derived

    def wrap(self, owner: Owner, version: int, data_key: bytes) -> tuple[bytes, int]:
        """The data key wrapped under the current master version, and that version."""
        if self._path is not None and self._clock() - self._keyring_read_at > self._ttl:
            self.reload_keyring()  # a rotation elsewhere reaches new keys within the TTL
        master = self._keyring.current.version
        return wrap_data_key(self._wrapping_key(master), data_key, owner, version), master

    def unwrap(self, row: _KeyRow) -> bytes:
        if row.wrapped is None or row.master_version is None:
            raise DataKeyDestroyed(row.owner)
        return unwrap_data_key(
            self._wrapping_key(row.master_version), row.wrapped, row.owner, row.version
        )

    def cached(self, ref: KeyRef) -> bytes | None:
        with self._lock:
            entry = self._keys.get(ref)
            if entry is None:
                return None
            if entry[1] <= self._clock():
                del self._keys[ref]
                return None
            self._keys.move_to_end(ref)
            return entry[0]

    def cached_current(self, owner: Owner) -> int | None:
        with self._lock:
            entry = self._current.get(owner)
            if entry is None or entry[1] <= self._clock():
                self._current.pop(owner, None)
                return None
            return entry[0]

    def remember(self, ref: KeyRef, key: bytes) -> None:
        with self._lock:
            self._keys[ref] = (key, self._clock() + self._ttl)
            self._keys.move_to_end(ref)
            while len(self._keys) > self._capacity:
                self._keys.popitem(last=False)

    def remember_current(self, owner: Owner, version: int) -> None:
        with self._lock:
            self._current[owner] = (version, self._clock() + self._ttl)
            if len(self._current) > self._capacity:
                self._current.pop(next(iter(self._current)))

    def forget(self, owners: Iterable[Owner]) -> None:
        gone = set(owners)
        with self._lock:
            for ref in [r for r in self._keys if r[0] in gone]:
                del self._keys[ref]
            for owner in gone:
                self._current.pop(owner, None)

    def forget_all(self) -> None:
        with self._lock:
            self._keys.clear()
            self._current.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)


class _TransactionKeys:
    """The keys one session has fetched or made, and the owners whose key rows it changed.

    Keys of changed owners never reach the shared cache from here: after commit the cache
    forgets those owners and reads the committed rows again; after rollback the whole state
    is dropped.
    """

    def __init__(self, store: KeyStore) -> None:
        self.store = store
        self.keys: dict[KeyRef, bytes] = {}
        self.destroyed: set[KeyRef] = set()
        self.current: dict[Owner, int] = {}
        self.touched: set[Owner] = set()
        self.touched_all = False

    def _shared(self, owner: Owner) -> bool:
        return not self.touched_all and owner not in self.touched

    def key(self, ref: KeyRef) -> bytes | None:
        found = self.keys.get(ref)
        if found is None and self._shared(ref[0]):
            found = self.store.cached(ref)
            if found is not None:
                self.keys[ref] = found
        return found

    def _take(self, row: _KeyRow) -> None:
        ref = (row.owner, row.version)
        if row.destroyed:
            self.destroyed.add(ref)
            self.keys.pop(ref, None)
            return
        if ref in self.keys:
            return
        key = self.store.unwrap(row)
        self.keys[ref] = key
        if self._shared(row.owner):
            self.store.remember(ref, key)

    def load(self, conn: Connection, refs: Iterable[KeyRef]) -> None:
        missing = {r for r in refs if r not in self.destroyed and self.key(r) is None}
        if missing:
            for row in _key_rows(conn, {owner for owner, _ in missing}):
                self._take(row)

    def current_key(self, conn: Connection, owner: Owner) -> tuple[int, bytes]:
        """The key new values of ``owner`` are sealed with, created on first use."""
        version = self.current.get(owner)
        if version is None and self._shared(owner):
            version = self.store.cached_current(owner)
        if version is not None:
            found = self.key((owner, version))
            if found is not None:
                self.current[owner] = version
                return version, found
        version = self._newest(conn, owner)
        if version is None:
            if self._create(conn, owner, 1):
                version = 1
            else:  # another transaction created it first: use that one
                version = self._newest(conn, owner)
                if version is None:
                    raise DataKeyDestroyed(owner)
        self.current[owner] = version
        if self._shared(owner):
            self.store.remember_current(owner, version)
        return version, self.keys[(owner, version)]

    def _newest(self, conn: Connection, owner: Owner) -> int | None:
        rows = _key_rows(conn, [owner])
        for row in rows:
            self._take(row)
        live = [r.version for r in rows if not r.destroyed]
        if not live and rows:
            raise DataKeyDestroyed(owner)
        return max(live) if live else None

    def _create(self, conn: Connection, owner: Owner, version: int) -> bool:
        key = os.urandom(32)
        wrapped, master = self.store.wrap(owner, version, key)
        if not _insert_key(conn, owner, version, wrapped, master):
            return False
        self.touched.add(owner)
        self.keys[(owner, version)] = key
        return True

    def index_key(self, conn: Connection, owner: Owner, purpose: str, *, create: bool) -> bytes:
        """The blind-index key of ``purpose``: from data-key version 1, which never changes."""
        ref = (owner, 1)
        self.load(conn, [ref])
        if self.key(ref) is None and ref not in self.destroyed and create:
            self.current_key(conn, owner)
        found = self.key(ref)
        if found is None:
            if ref in self.destroyed:
                raise DataKeyDestroyed(owner)
            raise LookupError(owner_label(owner))
        return index_key(found, purpose)

    def settle(self) -> None:
        """The transaction ended: the shared cache re-reads whatever it changed."""
        if self.touched_all:
            self.store.forget_all()
        elif self.touched:
            self.store.forget(self.touched)
        self.touched = set()
        self.touched_all = False


# --- binding a key store to sessions ---------------------------------------------------------

_STORE = "anjian.key_store"
_KEYS = "anjian.transaction_keys"
_WANTED = "anjian.wanted_keys"


_registry: dict[str, KeyStore] = {}
_registry_lock = threading.Lock()


def _database_key(url: URL | str) -> str:
    u = make_url(url)
    return f"{u.get_backend_name()}://{u.host or ''}:{u.port or ''}/{u.database or ''}"


def register_key_store(url: URL | str, store: KeyStore) -> None:
    """The store for sessions on database ``url`` that were not given one (a component's own
    session factory on the same database finds the runtime's keys this way)."""
    with _registry_lock:
        _registry[_database_key(url)] = store


def bind_key_store(
    maker: async_sessionmaker[AsyncSession], store: KeyStore
) -> async_sessionmaker[AsyncSession]:
    """Every session of ``maker`` seals and opens with ``store``."""
    info = dict(maker.kw.get("info") or {})
    info[_STORE] = store
    maker.configure(info=info)
    return maker


def _store_of(session: Session) -> KeyStore | None:
    store: KeyStore | None = session.info.get(_STORE)
    if store is None and session.bind is not None:
        with _registry_lock:
            store = _registry.get(_database_key(session.bind.engine.url))
        if store is not None:
            session.info[_STORE] = store
    return store


def key_store_of(session: Session | AsyncSession) -> KeyStore:
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    store = _store_of(sync)
    if store is None:
        raise ConfigurationError(
            "encrypted columns need a key store: open the session from the runtime's session "
            "factory, or register one for its database (privacy.crypto.register_key_store)"
        )
    return store


def _transaction_keys(session: Session) -> _TransactionKeys:
    keys = session.info.get(_KEYS)
    if keys is None:
        keys = session.info[_KEYS] = _TransactionKeys(key_store_of(session))
    return cast(_TransactionKeys, keys)


@event.listens_for(Session, "after_commit")
def _settle_after_commit(session: Session) -> None:
    keys = session.info.get(_KEYS)
    if keys is not None:
        keys.settle()


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous_transaction: Any) -> None:
    keys: _TransactionKeys | None = session.info.get(_KEYS)
    if keys is None:
        return
    fresh = _TransactionKeys(keys.store)
    if previous_transaction.nested:
        # A savepoint rolled back; the enclosing transaction's changes are still pending.
        fresh.touched, fresh.touched_all = keys.touched, keys.touched_all
    else:
        keys.settle()
    session.info[_KEYS] = fresh


# --- sealing rows over a connection (the ORM events and schema migrations share it) ---------


class RowSealer:
    """Seals and opens column values of rows over one connection."""

    def __init__(self, keys: _TransactionKeys, conn: Connection) -> None:
        self._keys = keys
        self._conn = conn

    @classmethod
    def for_connection(cls, store: KeyStore, conn: Connection) -> RowSealer:
        """A sealer for plain-SQL work (migrations); it never fills the shared cache."""
        keys = _TransactionKeys(store)
        keys.touched_all = True
        return cls(keys, conn)

    def seal(self, table: str, field: str, owner: Owner, row_id: uuid.UUID, value: str) -> bytes:
        version, key = self._keys.current_key(self._conn, owner)
        return seal(key, version, value.encode(), field_aad(table, field, owner, row_id))

    def open(self, table: str, field: str, owner: Owner, row_id: uuid.UUID, blob: bytes) -> str:
        ref = (owner, sealed_version(blob))
        self._keys.load(self._conn, [ref])
        return _open_with(self._keys, ref, blob, field_aad(table, field, owner, row_id))

    def index(self, owner: Owner, purpose: str, value: str, *, create: bool = True) -> bytes:
        return blind_index(self._keys.index_key(self._conn, owner, purpose, create=create), value)


def _open_with(keys: _TransactionKeys, ref: KeyRef, blob: bytes, aad: bytes) -> str:
    found = keys.key(ref)
    if found is None:
        if ref in keys.destroyed:
            raise DataKeyDestroyed(ref[0])
        raise KeyNotLoaded(
            f"the data key {ref[1]} of {owner_label(ref[0])} was not loaded with this row "
            "(rows streamed with yield_per are not prepared); read it with a plain select"
        )
    return unseal(found, blob, aad).decode()


# --- sealed ORM attributes -------------------------------------------------------------------

T = TypeVar("T", bound=str | None)
_PLAIN = "_anjian_plain"  # field -> (ciphertext the plaintext belongs to, or _UNSEALED; text)
_PINNED = "_anjian_keys"  # the transaction keys the instance was loaded or written with
_UNSEALED = object()


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
            raise TypeError(f"{self.name} takes a str, not {type(value).__name__}")
        obj.__dict__.setdefault(_PLAIN, {})[self.name] = (_UNSEALED, value)
        flag_dirty(obj)  # so the flush visits the row even when no column changed

    def _open(self, obj: Any, blob: bytes) -> str:
        owner = _owner_of(obj)
        keys: _TransactionKeys | None = obj.__dict__.get(_PINNED)
        if keys is None:
            session = object_session(obj)
            if session is None:
                raise KeyNotLoaded(f"{self.purpose} of a detached row that was never loaded")
            keys = _transaction_keys(session)
        ref = (owner, sealed_version(blob))
        return _open_with(
            keys, ref, blob, field_aad(self.owner.__tablename__, self.name, owner, obj.id)
        )

    async def matches(
        self, session: AsyncSession, value: str, owner: Owner = None
    ) -> ColumnElement[bool]:
        """The criterion "this field equals ``value``", through the blind index."""
        if self.index is None:
            raise TypeError(f"{self.purpose} has no blind index to look values up by")

        def digest(sync_session: Session) -> bytes | None:
            keys = _transaction_keys(sync_session)
            try:
                key = keys.index_key(sync_session.connection(), owner, self.purpose, create=False)
            except LookupError:
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
        raise TypeError(
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
    keys = _transaction_keys(session)
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
    if _store_of(session) is None:
        return  # reading a sealed field later says which factory to use
    keys = _transaction_keys(session)
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
        if ref not in keys.destroyed and keys.key(ref) is None:
            session.info.setdefault(_WANTED, set()).add(ref)


@event.listens_for(SealedRecord, "load", propagate=True)
def _on_load(target: Any, context: QueryContext) -> None:
    _note_loaded(context.session, target)


@event.listens_for(SealedRecord, "refresh", propagate=True)
def _on_refresh(target: Any, context: QueryContext, _attrs: Iterable[str] | None) -> None:
    _note_loaded(context.session, target)


@event.listens_for(Session, "do_orm_execute")
def _fetch_keys_of_loaded_rows(state: ORMExecuteState) -> Any:
    """Rows are loaded inside the transaction, so the keys they name can be fetched before
    the caller reads a field (which must not do I/O under asyncio)."""
    session = state.session
    if not state.is_select or _store_of(session) is None:
        return None
    if not any(issubclass(m.class_, SealedRecord) for m in state.all_mappers):
        return None
    options = state.execution_options
    if options.get("yield_per") or options.get("stream_results"):
        return None
    frozen = state.invoke_statement().freeze()
    wanted = session.info.pop(_WANTED, None)
    if wanted:
        _transaction_keys(session).load(session.connection(), wanted)
    return frozen()


# --- operations: rotation, shredding, status -------------------------------------------------


@dataclass(frozen=True)
class RotationReport:
    master_version: int
    rewrapped: int  # live data-key versions now wrapped under master_version
    issued: int  # new data-key versions, one per owner, that new writes use
    destroyed_tenants: int  # tenants whose keys were shredded: nothing left to wrap


async def rotate_data_keys(session: AsyncSession, *, issue: bool = True) -> RotationReport:
    """Re-wrap every live data key under the newest master version (add the version to the
    keyring first: ``privacy.keyring.add_version``). Needs a session that sees every tenant's
    keys (unscoped). With ``issue`` every owner also gets a new data-key version."""
    return await session.run_sync(_rotate, issue)


def _rotate(session: Session, issue: bool) -> RotationReport:
    keys = _transaction_keys(session)
    store = keys.store
    conn = session.connection()
    master = store.reload_keyring().current.version
    keys.touched_all = True
    store.forget_all()
    rewrapped = 0
    newest: dict[Owner, int] = {}
    shredded: set[Owner] = set()
    for row in _all_key_rows(conn, for_update=True):
        if row.destroyed:
            shredded.add(row.owner)
            continue
        newest[row.owner] = max(newest.get(row.owner, 0), row.version)
        if row.master_version == master:
            continue
        data_key = store.unwrap(row)
        wrapped, _ = store.wrap(row.owner, row.version, data_key)
        if row.owner is None:
            target = _PLATFORM_KEYS.c.version == row.version
            table = _PLATFORM_KEYS
        else:
            table = _TENANT_KEYS
            target = (table.c.tenant_id == row.owner) & (table.c.version == row.version)
        conn.execute(update(table).where(target).values(wrapped_key=wrapped, master_version=master))
        rewrapped += 1
    issued = 0
    if issue:
        for owner, version in sorted(newest.items(), key=lambda item: str(item[0])):
            if owner in shredded:
                continue
            if not keys._create(conn, owner, version + 1):
                raise Conflict("another key rotation is running; try again when it has finished")
            issued += 1
    keys.current.clear()
    return RotationReport(master, rewrapped, issued, len({o for o in shredded if o is not None}))


async def destroy_tenant_key(
    session: AsyncSession, tenant_id: uuid.UUID, *, actor: Actor | None = None
) -> int:
    """Crypto-shred a tenant: erase every version of its data key (leaving tombstones, so no
    new key is made for it) and audit it. Returns how many live versions were erased."""
    erased = await session.run_sync(_destroy, tenant_id)
    await record(
        session,
        actor or Actor.system(),
        "tenant.data_key_destroyed",
        domain=f"tenant:{tenant_id}",
        object_type="tenant",
        object_id=tenant_id,
        detail={"versions": erased},
    )
    return erased


def _destroy(session: Session, tenant_id: uuid.UUID) -> int:
    keys = _transaction_keys(session)
    conn = session.connection()
    keys.touched.add(tenant_id)
    keys.store.forget([tenant_id])
    t = _TENANT_KEYS
    erased = conn.execute(
        update(t)
        .where(t.c.tenant_id == tenant_id, t.c.destroyed_at.is_(None))
        .values(wrapped_key=None, master_version=None, destroyed_at=utcnow())
        .returning(t.c.version)
    ).all()
    if not _key_rows(conn, [tenant_id]):
        _insert_key(conn, tenant_id, 1, None, None, destroyed=True)
    for ref in [r for r in keys.keys if r[0] == tenant_id]:
        del keys.keys[ref]
    keys.current.pop(tenant_id, None)
    for row in _key_rows(conn, [tenant_id]):
        keys._take(row)
    return len(erased)


async def key_status(session: AsyncSession) -> dict[str, Any]:
    """The keyring's versions and the data keys per master version (no key material)."""
    return await session.run_sync(_status)


def _status(session: Session) -> dict[str, Any]:
    keyring = key_store_of(session).reload_keyring()
    conn = session.connection()
    rows = _all_key_rows(conn)
    live = [r for r in rows if not r.destroyed]
    by_master: dict[str, int] = {}
    for row in live:
        by_master[str(row.master_version)] = by_master.get(str(row.master_version), 0) + 1
    current = keyring.current.version
    return {
        "master": {
            "current": current,
            "versions": [
                {"version": v.version, "created_at": v.created_at} for v in keyring.versions
            ],
        },
        "data_keys": {
            "tenants": len({r.owner for r in live if r.owner is not None}),
            "tenant_key_versions": sum(1 for r in live if r.owner is not None),
            "platform_key_versions": sum(1 for r in live if r.owner is None),
            "destroyed_tenants": len({r.owner for r in rows if r.destroyed}),
            "by_master_version": dict(sorted(by_master.items())),
            "not_under_current_master": sum(1 for r in live if r.master_version != current),
        },
    }


# Free text declared ``at_rest=mask`` is masked by ORM events registered beside these ones.
import privacy.freetext  # noqa: E402, F401
