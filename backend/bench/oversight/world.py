"""The province-sized world of ``anjian bench oversight``: its plan, and its relational rows.

The plan is a pure function of the scale and a seed, so the process that writes ClickHouse
(``backend.bench.oversight.engine``, a child: only one process may open a chdb directory) and
the one that measures rebuild the same ids without passing them around. Sites are spread
round-robin over the counties of Jiangsu (320000), Nanjing's first and 雨花台区 (320114) first
of all, so a city and a county regulator have jurisdictions even at a tiny scale.

Some of the world is unhealthy on purpose, so data quality has work: every ``OFFLINE_EVERY``-th
device falls silent ``OFFLINE_FOR`` before the end (its sensors and its presence), every
``STALE_EVERY``-th sensor ``STALE_FOR`` before it, every ``FLAT_EVERY``-th reports one value
throughout, and every ``OUT_OF_RANGE_EVERY``-th sits at the top of its range for the last
minutes.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session

from backend.core.settings import Settings
from backend.telemetry import kinds
from backend.telemetry.models import Device, Sensor
from backend.telemetry.service import hash_token
from tenants import divisions
from tenants.divisions import covers
from tenants.models import Industry, Plan, Site, Subscription, Tenant
from tenants.scope import UNSCOPED_KEY

PROVINCE = "320000"  # 江苏省
CITY = "320100"  # 南京市
COUNTY = "320114"  # 雨花台区
LEVELS = (("province", PROVINCE), ("city", CITY), ("county", COUNTY))

ENTERPRISES = 2_000
SITES = 5_000
DEVICES_PER_SITE = 2
SENSORS_PER_DEVICE = 10  # 5,000 sites × 20 sensors = 100,000 sensors at scale 1
KIND = "temperature"
PLAN = "enterprise"
# Hours of one reading a minute per sensor written raw (the rest of the month is rollups).
RAW_HOURS = 17
SEED = 2260

OFFLINE_EVERY, OFFLINE_FOR = 97, timedelta(hours=2)
STALE_EVERY, STALE_FOR = 53, timedelta(hours=1)
FLAT_EVERY = 47
OUT_OF_RANGE_EVERY, OUT_OF_RANGE_FOR = 211, timedelta(minutes=10)
MAJOR_HAZARD_EVERY = 20

INSERT_CHUNK = 5_000


@dataclass(frozen=True)
class PlannedSensor:
    id: uuid.UUID
    index: int  # over the whole world: picks the unhealthy ones
    code: str

    @property
    def stale(self) -> bool:
        return self.index % STALE_EVERY == STALE_EVERY // 7

    @property
    def flat(self) -> bool:
        return self.index % FLAT_EVERY == 3

    @property
    def out_of_range(self) -> bool:
        return self.index % OUT_OF_RANGE_EVERY == 11


@dataclass(frozen=True)
class PlannedDevice:
    id: uuid.UUID
    index: int
    name: str
    sensors: tuple[PlannedSensor, ...]

    @property
    def offline(self) -> bool:
        return self.index % OFFLINE_EVERY == 5


@dataclass(frozen=True)
class PlannedSite:
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    division_code: str
    industry: Industry
    major_hazard_grade: int | None
    devices: tuple[PlannedDevice, ...]


@dataclass(frozen=True)
class PlannedTenant:
    id: uuid.UUID
    name: str
    industry: Industry
    division_code: str


@dataclass(frozen=True)
class World:
    scale: float
    tenants: tuple[PlannedTenant, ...]
    sites: tuple[PlannedSite, ...]

    @cached_property
    def devices(self) -> tuple[tuple[PlannedSite, PlannedDevice], ...]:
        return tuple((site, device) for site in self.sites for device in site.devices)

    @property
    def sensors(self) -> int:
        return sum(len(d.sensors) for _, d in self.devices)

    def inside(self, code: str) -> list[PlannedSite]:
        return [s for s in self.sites if covers(code, s.division_code)]

    def expected(self, code: str) -> Expected:
        """What the server must report for the division: registry counts, and the data
        quality problems the plan put there (each sensor under its first problem)."""
        sites = self.inside(code)
        offline_devices = stale = flat = out_of_range = sensors = 0
        for site in sites:
            for device in site.devices:
                sensors += len(device.sensors)
                if device.offline:
                    offline_devices += 1
                    continue
                for sensor in device.sensors:
                    if sensor.stale:
                        stale += 1
                    elif sensor.out_of_range:
                        out_of_range += 1
                    elif sensor.flat:
                        flat += 1
        return Expected(
            enterprises=len({s.tenant_id for s in sites}),
            sites=len(sites),
            sensors=sensors,
            offline_devices=offline_devices,
            stale=stale,
            flatline=flat,
            out_of_range=out_of_range,
        )


@dataclass(frozen=True)
class Expected:
    enterprises: int
    sites: int
    sensors: int
    offline_devices: int
    stale: int
    flatline: int
    out_of_range: int


def counties() -> list[str]:
    """Jiangsu's counties, those of Nanjing first and 320114 first of all."""
    found = [
        county.code
        for city in divisions.children(PROVINCE)
        for county in divisions.children(city.code)
    ]
    nanjing = [c for c in found if covers(CITY, c)]
    ordered = [COUNTY] + [c for c in nanjing if c != COUNTY]
    return ordered + [c for c in found if not covers(CITY, c)]


def plan(scale: float, seed: int = SEED) -> World:
    """The world at ``scale`` (a fraction of 2,000 enterprises and 5,000 sites; at least one
    of each per level measured)."""
    if not 0 < scale <= 1:
        raise ValueError("scale is a fraction between 0 (excluded) and 1")
    rng = random.Random(seed)

    def new_id() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    places = counties()
    industries = list(Industry)
    n_sites = max(len(LEVELS), round(SITES * scale))
    n_tenants = max(2, min(n_sites, round(ENTERPRISES * scale)))
    tenant_ids = [new_id() for _ in range(n_tenants)]
    sites: list[PlannedSite] = []
    first_site: dict[int, str] = {}
    device_index = sensor_index = 0
    for i in range(n_sites):
        owner = i % n_tenants
        code = places[i % len(places)]
        first_site.setdefault(owner, code)
        site_id = new_id()
        devices = []
        for d in range(DEVICES_PER_SITE):
            sensors = []
            for s in range(SENSORS_PER_DEVICE):
                sensors.append(PlannedSensor(new_id(), sensor_index, f"TT-{d + 1}{s:02d}"))
                sensor_index += 1
            devices.append(PlannedDevice(new_id(), device_index, f"采集器-{d + 1}", tuple(sensors)))
            device_index += 1
        hazard = (i // MAJOR_HAZARD_EVERY) % 4 + 1 if i % MAJOR_HAZARD_EVERY == 0 else None
        sites.append(
            PlannedSite(
                id=site_id,
                tenant_id=tenant_ids[owner],
                name=f"基准厂区{i + 1:05d}",
                division_code=code,
                industry=industries[owner % len(industries)],
                major_hazard_grade=hazard,
                devices=tuple(devices),
            )
        )
    tenants = tuple(
        PlannedTenant(
            id=tenant_ids[t],
            name=f"基准企业{t + 1:05d}",
            industry=industries[t % len(industries)],
            division_code=first_site[t],
        )
        for t in range(n_tenants)
    )
    return World(scale=scale, tenants=tenants, sites=tuple(sites))


def _chunks(rows: Sequence[dict[str, object]]) -> Iterator[Sequence[dict[str, object]]]:
    for start in range(0, len(rows), INSERT_CHUNK):
        yield rows[start : start + INSERT_CHUNK]


def device_token(device: PlannedDevice) -> str:
    """The bench device's ingest token (a bench world holds nothing worth a secret)."""
    return f"bench-{device.id.hex}"


def insert_relational(
    settings: Settings, world: World, advance: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """The world's tenants, sites (with subscriptions), devices and sensors, written through
    the models in bulk (executemany) in one unscoped transaction, as provisioning would write
    them; ``advance(table, rows)`` after each chunk. Returns the rows written per table.

    Each device's token is ``device_token(device)``: the world's past readings are written
    straight into ClickHouse, and while the regulators query, the devices go on reporting
    over HTTP with it (``backend.bench.oversight.feed``)."""
    now = datetime.now(UTC)
    quota = _plan_quota(settings)
    low, high = kind_range()
    rows: dict[str, list[dict[str, object]]] = {
        "tenants": [
            {
                "id": t.id,
                "created_at": now,
                "name": t.name,
                "industry": t.industry,
                "division_code": t.division_code,
            }
            for t in world.tenants
        ],
        "sites": [
            {
                "id": s.id,
                "created_at": now,
                "tenant_id": s.tenant_id,
                "name": s.name,
                "division_code": s.division_code,
                "industry": s.industry,
                "major_hazard_grade": s.major_hazard_grade,
            }
            for s in world.sites
        ],
        "subscriptions": [
            {
                "id": uuid.uuid5(s.id, "subscription"),
                "created_at": now,
                "tenant_id": s.tenant_id,
                "site_id": s.id,
                "plan_code": PLAN,
                "retention_days": quota,
                "started_at": now,
            }
            for s in world.sites
        ],
        "devices": [
            {
                "id": d.id,
                "created_at": now,
                "tenant_id": s.tenant_id,
                "site_id": s.id,
                "name": d.name,
                "token_hash": hash_token(device_token(d)),
            }
            for s, d in world.devices
        ],
        "sensors": [
            {
                "id": x.id,
                "created_at": now,
                "tenant_id": s.tenant_id,
                "site_id": s.id,
                "device_id": d.id,
                "code": x.code,
                "kind": KIND,
                "unit": "°C",
                "min_value": low,
                "max_value": high,
            }
            for s, d in world.devices
            for x in d.sensors
        ],
    }
    models = {
        "tenants": Tenant,
        "sites": Site,
        "subscriptions": Subscription,
        "devices": Device,
        "sensors": Sensor,
    }
    engine = create_engine(settings.sync_database_url)
    try:
        with Session(engine) as session, session.begin():
            session.info[UNSCOPED_KEY] = True
            for table, model in models.items():
                for chunk in _chunks(rows[table]):
                    session.execute(insert(model), chunk)
                    if advance is not None:
                        advance(table, len(chunk))
    finally:
        engine.dispose()
    return {table: len(r) for table, r in rows.items()}


def _plan_quota(settings: Settings) -> int:
    """The retention of the plan the sites subscribe to (``anjian migrate`` seeds plans)."""
    engine = create_engine(settings.sync_database_url)
    try:
        with Session(engine) as session:
            session.info[UNSCOPED_KEY] = True
            quota = session.get(Plan, PLAN)
            if quota is None:
                raise RuntimeError(f"plan {PLAN!r} is not installed; run `anjian migrate`")
            return quota.default_retention_days
    finally:
        engine.dispose()


def kind_range() -> tuple[float, float]:
    spec = kinds.catalog()[KIND]
    return float(spec["min"]), float(spec["max"])
