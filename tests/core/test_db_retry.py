"""A transaction that lost a race with another writer is run again; other failures are not."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from backend.core.db import retry_lost_race


def _locked() -> OperationalError:
    return OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))


async def test_a_transaction_refused_the_sqlite_write_lock_is_run_again() -> None:
    tries: list[int] = []

    async def work() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise _locked()
        return "committed"

    assert await retry_lost_race(work) == "committed"
    assert len(tries) == 3


async def test_named_conflicts_are_retried_and_other_errors_are_not() -> None:
    tries: list[int] = []

    async def collides_once() -> str:
        tries.append(1)
        if len(tries) == 1:
            raise IntegrityError("INSERT …", {}, sqlite3.IntegrityError("UNIQUE"))
        return "counted"

    assert await retry_lost_race(collides_once, conflicts=(IntegrityError,)) == "counted"

    async def broken() -> None:
        raise OperationalError("SELECT …", {}, sqlite3.OperationalError("no such table: x"))

    with pytest.raises(OperationalError, match="no such table"):
        await retry_lost_race(broken)


async def test_a_race_lost_every_time_ends_in_the_error() -> None:
    async def always_locked() -> None:
        raise _locked()

    with pytest.raises(OperationalError, match="database is locked"):
        await retry_lost_race(always_locked)
