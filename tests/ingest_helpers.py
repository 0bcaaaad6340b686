"""Helpers for the ingest tests: devices of their own, request bodies, ClickHouse counts.

ClickHouse is shared by the whole test session, so every ingest test writes under sensors it
created itself and counts only those.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from backend.auth.principal import Principal
from backend.runtime import Runtime
from backend.telemetry.kinds import parse_sensors
from backend.telemetry.models import Sensor
from backend.telemetry.service import create_device
from tenants.models import Site
from tenants.scope import Scope, scoped_session
from tenants.service import create_site_in_own_transaction

T = TypeVar("T")

GAS = {"code": "GT-1", "kind": "combustible_gas", "unit": "%LEL"}  # range 0..100
TEMP = {"code": "TT-1", "kind": "temperature", "unit": "°C"}  # range -50..1200
MARK = {"code": "MK-1", "kind": "level", "unit": "%"}  # the marker sensor of ``settle``
Client = AsyncTestClient  # type: ignore[type-arg]


@dataclass(frozen=True)
class IngestDevice:
    id: uuid.UUID
    tenant_id: uuid.UUID
    site_id: uuid.UUID
    token: str
    sensors: dict[str, uuid.UUID]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def gas_code(self) -> str:
        """The code of its combustible-gas sensor: ``GT-1`` unless the test chose another."""
        return next(code for code in self.sensors if code.startswith("GT-"))


async def new_site(
    rt: Runtime,
    tenant_id: uuid.UUID,
    *,
    plan: str = "standard",
    division: str = "320102",
    major_hazard_grade: int | None = None,
) -> uuid.UUID:
    scope = Scope.for_tenant(tenant_id)
    site = await create_site_in_own_transaction(
        sessions=rt.sessions,
        authz=rt.authz,
        principal=Principal.system(scope),
        tenant_id=tenant_id,
        name=f"站点 {uuid.uuid4().hex[:8]}",
        division_code=division,
        plan=plan,
        major_hazard_grade=major_hazard_grade,
    )
    return site.id


async def new_device(
    rt: Runtime,
    tenant_id: uuid.UUID,
    site_id: uuid.UUID,
    sensors: Sequence[dict[str, Any]] = (GAS, TEMP),
) -> IngestDevice:
    """A device with ``sensors`` on ``site_id`` — or, when the site already uses one of their
    codes (codes are unique per site, and the session's world is shared by many tests), on a
    new site like it (tenant, division, major hazard grade): ``IngestDevice.site_id`` says
    which."""
    scope = Scope.for_tenant(tenant_id)
    codes = [str(s["code"]) for s in sensors]
    async with scoped_session(rt.sessions, scope) as session:
        taken = await session.scalar(
            select(func.count())
            .select_from(Sensor)
            .where(Sensor.site_id == site_id, Sensor.code.in_(codes))
        )
        like = (
            await session.execute(
                select(Site.division_code, Site.major_hazard_grade).where(Site.id == site_id)
            )
        ).one()
    if taken:
        site_id = await new_site(
            rt, tenant_id, division=like.division_code, major_hazard_grade=like.major_hazard_grade
        )
    async with scoped_session(rt.sessions, scope) as session, session.begin():
        created = await create_device(
            session=session,
            authz=rt.authz,
            principal=Principal.system(scope),
            site_id=site_id,
            name=f"device {uuid.uuid4().hex[:8]}",
            sensors=parse_sensors(list(sensors)),
        )
    return IngestDevice(created.device.id, tenant_id, site_id, created.token, created.sensors)


def iso_z(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_ms() -> int:
    return int(time.time() * 1000)


def readings(code: str, count: int, *, start_ms: int | None = None) -> list[dict[str, Any]]:
    """``count`` valid readings of one sensor at distinct milliseconds just before now."""
    start = (now_ms() - 60_000) if start_ms is None else start_ms
    return [{"sensor": code, "ts": start + i, "value": float(i % 100)} for i in range(count)]


def telemetry_body(items: list[dict[str, Any]], batch_id: uuid.UUID | None = None) -> bytes:
    return json.dumps({"batch_id": str(batch_id or uuid.uuid4()), "readings": items}).encode()


def scalar(rt: Runtime, sql: str, **parameters: Any) -> Any:
    """One value from the session's ClickHouse (parameters as ``{name:Type}``)."""
    return rt.clickhouse.query(sql, parameters=parameters).result_rows[0][0]


def raw_count(rt: Runtime, sensor_id: uuid.UUID) -> int:
    return int(
        scalar(rt, "SELECT count() FROM readings WHERE sensor_id = {s:UUID}", s=str(sensor_id))
    )


async def eventually(
    probe: Callable[[], T | Awaitable[T]],
    done: Callable[[T], bool],
    *,
    within: float = 20.0,
    interval: float = 0.05,
) -> T:
    """Poll ``probe`` until ``done(value)`` or the deadline; returns the last value either way
    (the caller asserts on it, so a timeout reports what was last seen)."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if asyncio.iscoroutine(value) or isinstance(value, Awaitable):
            value = await value  # type: ignore[misc]
        if done(value) or time.monotonic() > deadline:
            return value  # type: ignore[return-value]
        await asyncio.sleep(interval)


class FailingClient:
    """Stands in for an unreachable ClickHouse: every write raises."""

    def __init__(self) -> None:
        self.attempts = 0

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        self.attempts += 1
        raise ConnectionError("ClickHouse is unreachable (test)")

    raw_insert = _fail
    insert = _fail
    command = _fail
    query = _fail


# --- talking to the in-process app ---------------------------------------------------------


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


async def post(http: Client, dev: IngestDevice, path: str, body: Any) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await http.post(
        f"/api/v1/{path}",
        content=content,
        headers={**dev.headers, "Content-Type": "application/json"},
    )


def heartbeats(rt: Runtime, device_id: uuid.UUID) -> int:
    return int(
        scalar(
            rt,
            "SELECT count() FROM device_seen WHERE device_id = {d:UUID} AND source = 'heartbeat'",
            d=str(device_id),
        )
    )


async def settle(http: Client, rt: Runtime, dev: IngestDevice) -> None:
    """Send a marker reading and a heartbeat and wait until both are in ClickHouse. The flusher
    writes the spool in order and a run's device_seen rows last, so by then everything
    acknowledged before is in every table."""
    marker = dev.sensors["MK-1"]
    before = raw_count(rt, marker), heartbeats(rt, dev.id)
    response = await post(http, dev, "telemetry", telemetry_body(readings("MK-1", 1)))
    assert response.status_code == 202, response.text
    assert (await post(http, dev, "heartbeat", b"")).status_code == 202
    after = await eventually(
        lambda: (raw_count(rt, marker), heartbeats(rt, dev.id)),
        lambda counts: counts[0] > before[0] and counts[1] > before[1],
    )
    assert after == (before[0] + 1, before[1] + 1)


async def landed(http: Client, rt: Runtime, dev: IngestDevice, code: str) -> int:
    """The sensor's count once everything acknowledged so far is in ClickHouse."""
    await settle(http, rt, dev)
    return raw_count(rt, dev.sensors[code])


def last_seen_ms(rt: Runtime, device_id: uuid.UUID) -> int | None:
    rows = rt.clickhouse.query(
        "SELECT toUnixTimestamp64Milli(max(last_seen)) FROM device_last_seen "
        "WHERE device_id = {d:UUID} HAVING count() > 0",
        parameters={"d": str(device_id)},
    ).result_rows
    return int(rows[0][0]) if rows else None


async def upload(http: Client, dev: IngestDevice, data: bytes, content_type: str) -> Any:
    return await http.post(
        "/api/v1/snapshots", content=data, headers={**dev.headers, "Content-Type": content_type}
    )
