"""The data keys one transaction uses, and sealing rows over its connection.

A key that a transaction creates, rotates or destroys is kept to that transaction until it
commits, so a rolled-back change can never reach the store's shared cache.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable

from sqlalchemy import Connection

from privacy.crypto._cipher import blind_index, field_aad, index_key, seal, sealed_version, unseal
from privacy.crypto._errors import DataKeyDestroyed, KeyNotLoaded, KeyRef, Owner, owner_label
from privacy.crypto._store import KeyStore
from privacy.crypto._tables import KeyRow, insert_key, key_rows


class NoIndexKey(LookupError):
    """The owner has no data key yet, so no value of it was ever indexed."""


class TransactionKeys:
    """The keys one session has fetched or made, and the owners whose key rows it changed.

    Keys of changed owners never reach the shared cache from here: after commit the cache
    forgets those owners and reads the committed rows again; after rollback the whole state
    is dropped.
    """

    def __init__(self, store: KeyStore, *, isolated: bool = False) -> None:
        self.store = store
        self._keys: dict[KeyRef, bytes] = {}
        self._destroyed: set[KeyRef] = set()
        self._current: dict[Owner, int] = {}
        self._touched: set[Owner] = set()
        # Isolated keys never read or fill the shared cache (plain-SQL work: migrations).
        self._touched_all = isolated

    def _shared(self, owner: Owner) -> bool:
        return not self._touched_all and owner not in self._touched

    def key(self, ref: KeyRef) -> bytes | None:
        found = self._keys.get(ref)
        if found is None and self._shared(ref[0]):
            found = self.store.cached(ref)
            if found is not None:
                self._keys[ref] = found
        return found

    def is_destroyed(self, ref: KeyRef) -> bool:
        return ref in self._destroyed

    def take(self, row: KeyRow) -> None:
        """Hold the key of a row read in this transaction (or note its tombstone)."""
        ref = (row.owner, row.version)
        if row.destroyed:
            self._destroyed.add(ref)
            self._keys.pop(ref, None)
            return
        if ref in self._keys:
            return
        key = self.store.unwrap(row)
        self._keys[ref] = key
        if self._shared(row.owner):
            self.store.remember(ref, key)

    def load(self, conn: Connection, refs: Iterable[KeyRef]) -> None:
        missing = {r for r in refs if r not in self._destroyed and self.key(r) is None}
        if missing:
            for row in key_rows(conn, {owner for owner, _ in missing}):
                self.take(row)

    def open(self, ref: KeyRef, blob: bytes, aad: bytes) -> str:
        """Decrypt ``blob`` with a key already loaded in this transaction or cached."""
        found = self.key(ref)
        if found is None:
            if ref in self._destroyed:
                raise DataKeyDestroyed(ref[0])
            raise KeyNotLoaded(
                f"the data key {ref[1]} of {owner_label(ref[0])} was not loaded with this row "
                "(rows streamed with yield_per are not prepared); read it with a plain select"
            )
        return unseal(found, blob, aad).decode()

    def current_key(self, conn: Connection, owner: Owner) -> tuple[int, bytes]:
        """The key new values of ``owner`` are sealed with, created on first use."""
        version = self._current.get(owner)
        if version is None and self._shared(owner):
            version = self.store.cached_current(owner)
        if version is not None:
            found = self.key((owner, version))
            if found is not None:
                self._current[owner] = version
                return version, found
        version = self._newest(conn, owner)
        if version is None:
            if self.create(conn, owner, 1):
                version = 1
            else:  # another transaction created it first: use that one
                version = self._newest(conn, owner)
                if version is None:
                    raise DataKeyDestroyed(owner)
        self._current[owner] = version
        if self._shared(owner):
            self.store.remember_current(owner, version)
        return version, self._keys[(owner, version)]

    def _newest(self, conn: Connection, owner: Owner) -> int | None:
        rows = key_rows(conn, [owner])
        for row in rows:
            self.take(row)
        live = [r.version for r in rows if not r.destroyed]
        if not live and rows:
            raise DataKeyDestroyed(owner)
        return max(live) if live else None

    def create(self, conn: Connection, owner: Owner, version: int) -> bool:
        """Make and store data-key ``version`` of ``owner``; False if it already exists."""
        key = os.urandom(32)
        wrapped, master = self.store.wrap(owner, version, key)
        if not insert_key(conn, owner, version, wrapped, master):
            return False
        self._touched.add(owner)
        self._keys[(owner, version)] = key
        return True

    def index_key(self, conn: Connection, owner: Owner, purpose: str, *, create: bool) -> bytes:
        """The blind-index key of ``purpose``: from data-key version 1, which never changes."""
        ref = (owner, 1)
        self.load(conn, [ref])
        if self.key(ref) is None and ref not in self._destroyed and create:
            self.current_key(conn, owner)
        found = self.key(ref)
        if found is None:
            if ref in self._destroyed:
                raise DataKeyDestroyed(owner)
            raise NoIndexKey(owner_label(owner))
        return index_key(found, purpose)

    # --- changing key rows (rotation, shredding) ---------------------------------------------

    def changing(self, owner: Owner) -> None:
        """This transaction changes ``owner``'s key rows: the shared cache forgets the owner
        now and is not filled for it again until the transaction ends."""
        self._touched.add(owner)
        self.store.forget([owner])

    def changing_all(self) -> None:
        """This transaction changes every owner's key rows (a rotation)."""
        self._touched_all = True
        self.store.forget_all()

    def reread(self, conn: Connection, owner: Owner) -> None:
        """Drop what this transaction holds for ``owner`` and take its rows as they are now."""
        for ref in [r for r in self._keys if r[0] == owner]:
            del self._keys[ref]
        self._current.pop(owner, None)
        for row in key_rows(conn, [owner]):
            self.take(row)

    def forget_current_versions(self) -> None:
        """New versions were issued: the next seal looks the newest one up again."""
        self._current.clear()

    # --- the end of the transaction ----------------------------------------------------------

    def settle(self) -> None:
        """The transaction ended: the shared cache re-reads whatever it changed."""
        if self._touched_all:
            self.store.forget_all()
        elif self._touched:
            self.store.forget(self._touched)
        self._touched = set()
        self._touched_all = False

    def rolled_back(self, *, savepoint: bool) -> TransactionKeys:
        """The keys the session continues with after a rollback: none of these, but after a
        savepoint the enclosing transaction's pending changes still keep the cache away."""
        fresh = TransactionKeys(self.store)
        if savepoint:
            fresh._touched, fresh._touched_all = self._touched, self._touched_all
        else:
            self.settle()
        return fresh


class RowSealer:
    """Seals and opens column values of rows over one connection."""

    def __init__(self, keys: TransactionKeys, conn: Connection) -> None:
        self._keys = keys
        self._conn = conn

    @classmethod
    def for_connection(cls, store: KeyStore, conn: Connection) -> RowSealer:
        """A sealer for plain-SQL work (migrations); it never fills the shared cache."""
        return cls(TransactionKeys(store, isolated=True), conn)

    def seal(self, table: str, field: str, owner: Owner, row_id: uuid.UUID, value: str) -> bytes:
        version, key = self._keys.current_key(self._conn, owner)
        return seal(key, version, value.encode(), field_aad(table, field, owner, row_id))

    def open(self, table: str, field: str, owner: Owner, row_id: uuid.UUID, blob: bytes) -> str:
        ref = (owner, sealed_version(blob))
        self._keys.load(self._conn, [ref])
        return self._keys.open(ref, blob, field_aad(table, field, owner, row_id))

    def index(self, owner: Owner, purpose: str, value: str, *, create: bool = True) -> bytes:
        return blind_index(self._keys.index_key(self._conn, owner, purpose, create=create), value)
