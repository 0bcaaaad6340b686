"""Change counters: one integer per named cache, bumped with the change it announces."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.db import ChangeCounter

REGISTRY = "registry"  # devices, sensors, sites' subscriptions: what ingest caches


async def bump(session: AsyncSession, name: str) -> None:
    result = await session.execute(
        update(ChangeCounter)
        .where(ChangeCounter.name == name)
        .values(value=ChangeCounter.value + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(ChangeCounter(name=name, value=1))
        await session.flush()


async def read(session: AsyncSession, name: str) -> int:
    value = await session.scalar(select(ChangeCounter.value).where(ChangeCounter.name == name))
    return value or 0
