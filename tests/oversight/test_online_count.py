"""The overview's ClickHouse count runs beside its relational reads; a refusal of the store
still reaches the caller as itself (a clear LIMIT_EXCEEDED, not an internal error)."""

from __future__ import annotations

import asyncio
import uuid
from unittest import mock

import pytest

from backend.core.errors import LimitExceeded
from backend.oversight import overview


async def _no_retired(**_: object) -> set[uuid.UUID]:
    return set()


def _counting() -> object:
    return overview.online_sensors_meanwhile(
        session=mock.Mock(),
        client=mock.Mock(),
        principal=mock.Mock(),
        prefix="3201",
        now=mock.Mock(),
        offline_after_seconds=300,
    )


async def test_the_count_is_in_when_the_block_ends() -> None:
    tenant, site = uuid.uuid4(), uuid.uuid4()
    with (
        mock.patch.object(overview, "retired_sensors", _no_retired),
        mock.patch.object(overview, "online_sensors_by_site", return_value={(tenant, site): 9}),
    ):
        async with _counting() as counted:
            await asyncio.sleep(0)
    assert counted.by_site({site: 7}) == {site: 7}  # never more than the registry has


async def test_a_refusal_of_the_store_is_raised_as_itself() -> None:
    with (
        mock.patch.object(overview, "retired_sensors", _no_retired),
        mock.patch.object(
            overview, "online_sensors_by_site", side_effect=LimitExceeded("over the limit")
        ),
        pytest.raises(LimitExceeded, match="over the limit"),
    ):
        async with _counting():
            await asyncio.sleep(0.01)
