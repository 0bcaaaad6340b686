"""Binding a key store to sessions, and each session's transaction keys.

The key store is bound to a session factory (``bind_key_store``), not to the process: one
process may hold several. A component that builds a session factory of its own is handed the
store and binds it too.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from backend.core.errors import ConfigurationError
from privacy.crypto._keys import TransactionKeys
from privacy.crypto._store import KeyStore

_STORE = "anjian.key_store"
_KEYS = "anjian.transaction_keys"


def bind_key_store(
    maker: async_sessionmaker[AsyncSession], store: KeyStore
) -> async_sessionmaker[AsyncSession]:
    """Every session of ``maker`` seals and opens with ``store``."""
    info = dict(maker.kw.get("info") or {})
    info[_STORE] = store
    maker.configure(info=info)
    return maker


def bound_store(session: Session) -> KeyStore | None:
    """The store the session's factory was bound to."""
    return cast("KeyStore | None", session.info.get(_STORE))


def key_store_of(session: Session | AsyncSession) -> KeyStore:
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    store = bound_store(sync)
    if store is None:
        raise ConfigurationError(
            "encrypted columns need a key store: open the session from a factory bound to one "
            "(privacy.crypto.bind_key_store)"
        )
    return store


def transaction_keys(session: Session) -> TransactionKeys:
    """The keys of the session's current transaction, made on first use."""
    keys = session.info.get(_KEYS)
    if keys is None:
        keys = session.info[_KEYS] = TransactionKeys(key_store_of(session))
    return cast(TransactionKeys, keys)


@event.listens_for(Session, "after_commit")
def _settle_after_commit(session: Session) -> None:
    keys: TransactionKeys | None = session.info.get(_KEYS)
    if keys is not None:
        keys.settle()


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous_transaction: Any) -> None:
    keys: TransactionKeys | None = session.info.get(_KEYS)
    if keys is not None:
        # After a savepoint's rollback the enclosing transaction's changes are still pending.
        session.info[_KEYS] = keys.rolled_back(savepoint=previous_transaction.nested)
