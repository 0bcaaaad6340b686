"""The demo: seeding is complete, idempotent and usable; the simulator writes live readings.

Each relational backend gets its own fresh store (a demo on top of the shared ``world`` would
blur what the demo itself created); ClickHouse is the process's shared engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import io
import math
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import anyio
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from backend.app import create_app
from backend.auth import service as auth_service
from backend.auth.models import Membership, User
from backend.auth.principal import Principal
from backend.auth.provisioning import unscoped_provision_tenant_in_own_transaction
from backend.demo.live import attach_simulator, run_simulator, unscoped_demo_sensors
from backend.demo.seed import DemoSummary, print_logins, seed_demo
from backend.demo.simulator import Simulator
from backend.demo.walks import SimSensor, walk_for
from backend.demo.world import PASSWORD, build_plan
from backend.migrate import migrate
from backend.oversight.hazards.models import HazardResponsible, HazardUnit, ResponsibleRole
from backend.oversight.service import create_regulator_in_own_transaction
from backend.reports.service import handling_division, public_session
from backend.runtime import Runtime
from backend.telemetry import readings
from backend.telemetry.ingest import Ingest
from backend.telemetry.models import Device, Sensor
from privacy.audit import verify_chain
from tenants.models import Site, Tenant, Worker, Zone
from tenants.scope import Scope, unscoped_session
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database, make_settings

COUNTED = {
    "tenants": Tenant,
    "sites": Site,
    "zones": Zone,
    "workers": Worker,
    "devices": Device,
    "sensors": Sensor,
    "users": User,
    "memberships": Membership,
    "hazard_units": HazardUnit,
    "hazard_responsibles": HazardResponsible,
}
# The contract's query, verbatim.
SITES_QUERY = (
    "query { sites { id name divisionCode "
    "sensors { id code kind unit zone latest { ts value } } } }"
)
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }"


@dataclass
class Demo:
    rt: Runtime
    first: DemoSummary
    second: DemoSummary
    counts_first: dict[str, int]
    counts_second: dict[str, int]


async def db_counts(rt: Runtime) -> dict[str, int]:
    async with unscoped_session(rt.sessions) as session:
        return {
            name: await session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in COUNTED.items()
        }


async def all_rows(rt: Runtime, model: type) -> list:
    async with unscoped_session(rt.sessions) as session:
        return list((await session.scalars(select(model))).all())


def utc_now_ms() -> datetime:
    """Now, at the millisecond precision readings are stored with (always later than before)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(ts: datetime) -> datetime:
    """ClickHouse DateTime64(3, 'UTC') values, aware or not, as aware UTC datetimes."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _values_by_kind(sensors: list[SimSensor], values: dict[uuid.UUID, float]) -> dict:
    grouped: dict[str, list[float]] = {}
    for sensor in sensors:
        grouped.setdefault(sensor.kind, []).append(values[sensor.id])
    return grouped


def _skab_values(column: str) -> list[float]:
    text = (
        resources.files("backend.telemetry")
        .joinpath("data/skab_valve1_excerpt.csv")
        .read_text(encoding="ascii")
    )
    return [float(row[column]) for row in csv.DictReader(io.StringIO(text), delimiter=";")]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, chdb_dir: Path
) -> AsyncIterator[Demo]:
    overrides, pg_url = {}, None
    if request.param == "postgres":
        pg_url = create_pg_database(PG_ADMIN_URL)
        overrides["ANJIAN_DATABASE_URL"] = pg_url
    settings = make_settings(
        tmp_path_factory.mktemp(f"demo-{request.param}"), chdb_dir, **overrides
    )
    rt = Runtime(settings)
    migrate(
        owner_engine=rt.owner_engine,
        keyring=rt.keyring,
        clickhouse=rt.clickhouse,
        cluster=settings.clickhouse_cluster,
    )
    try:
        first = await seed_demo(sessions=rt.sessions, authz=rt.authz, log2_n=rt.log2_n)
        counts_first = await db_counts(rt)
        second = await seed_demo(sessions=rt.sessions, authz=rt.authz, log2_n=rt.log2_n)
        yield Demo(rt, first, second, counts_first, await db_counts(rt))
    finally:
        await rt.close()
        if pg_url is not None:
            drop_pg_database(PG_ADMIN_URL, pg_url)


# ------------------------------------------------------------------ the seeded data


async def test_first_run_meets_the_minimums(demo: Demo) -> None:
    tenants = await all_rows(demo.rt, Tenant)
    sites = await all_rows(demo.rt, Site)
    sensors = await all_rows(demo.rt, Sensor)
    assert len(tenants) >= 6
    by_industry = Counter(t.industry.value for t in tenants)
    assert all(by_industry[i] >= 2 for i in ("chemical", "mining", "construction")), by_industry
    assert len(sites) >= 12
    assert any(s.major_hazard_grade in (1, 2, 3, 4) for s in sites)
    assert len({s.division_code for s in sites}) >= 8  # spread over many counties
    assert len(sensors) >= 300
    held = {(m.domain, m.role) for m in await all_rows(demo.rt, Membership)}
    for division in ("320000", "320100", "320500"):
        assert (f"gov:{division}", "director") in held, division
    assert {role for _, role in held} >= {
        "inspector",
        "analyst",
        "platform_admin",
        "owner",
        "safety_manager",
        "operator",
        "viewer",
    }
    # The summary reports what is in the store.
    assert demo.first.tenants == len(tenants)
    assert demo.first.sites == len(sites)
    assert demo.first.sensors == len(sensors)
    assert demo.first.created_now > 0


async def test_sites_are_in_real_jiangsu_counties_with_fitting_zones(demo: Demo) -> None:
    tenants = {t.id: t for t in await all_rows(demo.rt, Tenant)}
    zones: dict[uuid.UUID, set[str]] = {}
    for zone in await all_rows(demo.rt, Zone):
        zones.setdefault(zone.site_id, set()).add(zone.kind.value)
    expected = {
        "chemical": {"tank_farm", "confined_space", "hot_work"},
        "mining": {"working_face", "return_airway"},
        "construction": {"hoisting", "foundation_pit", "scaffold"},
    }
    cities = set()
    for site in await all_rows(demo.rt, Site):
        assert re.fullmatch(r"32\d{2}(0[1-9]|[1-9]\d)", site.division_code), site.division_code
        assert site.industry == tenants[site.tenant_id].industry
        assert expected[site.industry.value] <= zones[site.id], site.name
        cities.add(site.division_code[:4])
    assert {"3201", "3205"} <= cities and len(cities) >= 3


async def test_graded_sites_are_graded_by_their_registered_hazard_units(demo: Demo) -> None:
    units: dict[uuid.UUID, list[HazardUnit]] = {}
    for unit in await all_rows(demo.rt, HazardUnit):
        units.setdefault(unit.site_id, []).append(unit)
    roles: dict[uuid.UUID, set[ResponsibleRole]] = {}
    for held in await all_rows(demo.rt, HazardResponsible):
        roles.setdefault(held.unit_id, set()).add(held.role)
    graded = [s for s in await all_rows(demo.rt, Site) if s.major_hazard_grade is not None]
    assert len(graded) >= 4
    for site in graded:
        major = [u for u in units.get(site.id, []) if u.is_major]
        assert site.major_hazard_grade == min(u.grade for u in major), site.name
        for unit in major:
            assert roles.get(unit.id) == set(ResponsibleRole), unit.name
    assert {u.grade for site_units in units.values() for u in site_units} == {1, 2, 3, 4}


def _gb11643_ok(number: str) -> bool:
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    total = sum(int(d) * w for d, w in zip(number[:17], weights, strict=True))
    return number[17] == "10X98765432"[total % 11]


async def test_workers_have_valid_personal_data(demo: Demo) -> None:
    workers = await all_rows(demo.rt, Worker)
    assert len(workers) >= 12
    for worker in workers:
        assert re.fullmatch(r"1[3-9]\d{9}", worker.mobile or ""), worker.mobile
        assert re.fullmatch(r"\d{17}[\dX]", worker.id_number or ""), worker.id_number
        assert _gb11643_ok(worker.id_number), worker.id_number
        born = datetime.strptime(worker.id_number[6:14], "%Y%m%d")
        assert 16 <= datetime.now().year - born.year <= 65
        assert worker.employee_number and worker.name
    assert len({w.name for w in workers}) > len(workers) // 2  # Faker names, not one stub


async def test_sensors_fit_their_industry(demo: Demo) -> None:
    sites = {s.id: s for s in await all_rows(demo.rt, Site)}
    devices = {d.id: d for d in await all_rows(demo.rt, Device)}
    kinds: dict[str, set[str]] = {"chemical": set(), "mining": set(), "construction": set()}
    gases = set()
    for sensor in await all_rows(demo.rt, Sensor):
        industry = sites[sensor.site_id].industry.value
        kinds[industry].add(sensor.kind)
        if sensor.kind == "toxic_gas":
            gases.add(sensor.gas)
        if sensor.kind == "heart_rate":
            assert devices[sensor.device_id].worker_id is not None  # a wearable has a wearer
    assert {"combustible_gas", "toxic_gas", "oxygen", "temperature", "pressure"} <= kinds[
        "chemical"
    ]
    assert {"level", "flow"} <= kinds["chemical"]
    assert {"methane", "carbon_monoxide", "oxygen", "wind_speed", "temperature"} <= kinds["mining"]
    assert {"load_ratio", "moment_ratio", "wind_speed", "displacement", "tilt"} <= kinds[
        "construction"
    ]
    assert {"H2S", "CO", "NH3", "Cl2"} <= gases
    assert all("heart_rate" in k for k in kinds.values())
    assert "methane" not in kinds["construction"] and "load_ratio" not in kinds["chemical"]


async def test_second_run_creates_nothing_and_keeps_the_audit_chain(demo: Demo) -> None:
    assert demo.second.created_now == 0
    assert demo.counts_second == demo.counts_first
    assert [x.email for x in demo.second.logins] == [x.email for x in demo.first.logins]
    assert demo.second.sensors == demo.first.sensors
    async with demo.rt.sessions() as session:
        report = await verify_chain(session=session)
    assert report.ok, report
    assert report.entries >= demo.counts_first["sensors"] // 10  # the demo was audited


async def test_an_interrupted_demo_is_completed_without_duplicates(
    tmp_path: Path, chdb_dir: Path
) -> None:
    """A demo tenant and a regulator left over from an earlier run are reused, not re-created."""
    plan = build_plan()
    settings = make_settings(tmp_path, chdb_dir)
    rt = Runtime(settings)
    migrate(
        owner_engine=rt.owner_engine,
        keyring=rt.keyring,
        clickhouse=rt.clickhouse,
        cluster=settings.clickhouse_cluster,
    )
    try:
        spec = plan.tenants[0]
        await unscoped_provision_tenant_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=Principal.system(),
            name=spec.name,
            division_code=spec.division,
            industry=spec.industry,
            owner_email=spec.email("owner"),
            owner_password=PASSWORD,
            log2_n=rt.log2_n,
        )
        regulator = plan.regulators[0]
        await create_regulator_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=Principal.system(),
            division_code=regulator.division,
            email=regulator.email,
            password=PASSWORD,
            role=regulator.role,
            log2_n=rt.log2_n,
        )
        before = await db_counts(rt)
        summary = await seed_demo(sessions=rt.sessions, authz=rt.authz, log2_n=rt.log2_n)
        after = await db_counts(rt)
        tenant_names = [t.name for t in await all_rows(rt, Tenant)]
    finally:
        await rt.close()
    assert sorted(tenant_names) == sorted(t.name for t in plan.tenants)
    assert after["sites"] == sum(len(t.sites) for t in plan.tenants) == summary.sites
    assert after["sensors"] == plan.sensor_count == summary.sensors
    assert after["users"] == len(summary.logins)
    assert (
        summary.created_now
        == (after["users"] - before["users"])
        + (after["tenants"] - before["tenants"])
        + after["sites"]
        + after["zones"]
        + after["workers"]
        + after["devices"]
        + after["hazard_units"]
    )


# ------------------------------------------------------------------ logins


async def test_every_printed_login_signs_in(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    print_logins(demo.first)
    printed = capsys.readouterr()
    assert printed.out == ""  # stdout stays free for machine output
    assert len(demo.first.logins) >= 3 + 1 + 6 * 4
    for login in demo.first.logins:
        assert login.email in printed.err
        token = await auth_service.unscoped_login_in_own_transaction(
            sessions=demo.rt.sessions,
            codec=demo.rt.tokens,
            email=login.email,
            password=login.password,
            log2_n=demo.rt.log2_n,
        )
        principal = await auth_service.unscoped_resolve_token(
            sessions=demo.rt.sessions, codec=demo.rt.tokens, authz=demo.rt.authz, token=token
        )
        assert (login.domain, login.role) in {(g.domain, g.role) for g in principal.grants}
        assert login.label


async def _sites_seen_by(client: AsyncTestClient, email: str, password: str) -> list[dict]:
    response = await client.post(
        "/graphql", json={"query": LOGIN, "variables": {"e": email, "p": password}}
    )
    token = response.json()["data"]["login"]["token"]
    response = await client.post(
        "/graphql", json={"query": SITES_QUERY}, headers={"Authorization": f"Bearer {token}"}
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]["sites"]


async def test_regulators_see_their_jurisdiction(demo: Demo) -> None:
    logins = {(x.role, x.domain): x for x in demo.first.logins}
    province = logins[("director", "gov:320000")]
    nanjing = logins[("director", "gov:320100")]
    sites = await all_rows(demo.rt, Site)
    async with AsyncTestClient(app=create_app(runtime=demo.rt)) as client:
        seen_province = await _sites_seen_by(client, province.email, province.password)
        seen_nanjing = await _sites_seen_by(client, nanjing.email, nanjing.password)
    assert {s["id"] for s in seen_province} == {str(s.id) for s in sites}
    in_nanjing = {str(s.id) for s in sites if s.division_code.startswith("3201")}
    assert in_nanjing and len(in_nanjing) < len(sites)
    assert {s["id"] for s in seen_nanjing} == in_nanjing
    assert all(s["divisionCode"].startswith("3201") for s in seen_nanjing)
    assert sum(len(s["sensors"]) for s in seen_province) == demo.first.sensors


async def test_reports_in_xuanwu_are_handled_by_the_county(demo: Demo) -> None:
    """玄武区 (320102) has its own director and inspector among the printed logins, so a
    report there is handled at county level; the rest of Nanjing by the city."""
    logins = {(x.role, x.domain) for x in demo.first.logins}
    assert {("director", "gov:320102"), ("inspector", "gov:320102")} <= logins
    async with public_session(demo.rt.sessions) as session:
        assert await handling_division(session, "320102") == "320102"
        assert await handling_division(session, "320116") == "320100"
        assert await handling_division(session, "320505") == "320500"


# ------------------------------------------------------------------ the simulator


async def test_live_values_show_in_graphql(demo: Demo) -> None:
    """After a tick, the contract's sites query shows it (RFC 3339 UTC) with the zones."""
    owner = next(x for x in demo.first.logins if x.role == "owner")
    sensors = await unscoped_demo_sensors(sessions=demo.rt.sessions)
    now = utc_now_ms()
    await Simulator(random.Random(5)).tick(demo.rt.ingest, sensors, now)
    await anyio.to_thread.run_sync(demo.rt.flusher.flush_once)
    ranges = {str(s.id): (s.min_value, s.max_value) for s in sensors}
    zones = {z.id: z.name for z in await all_rows(demo.rt, Zone)}
    placed = {str(s.id): zones.get(s.zone_id) for s in await all_rows(demo.rt, Sensor)}
    async with AsyncTestClient(app=create_app(runtime=demo.rt)) as client:
        seen = await _sites_seen_by(client, owner.email, owner.password)
    shown = [sensor for site in seen for sensor in site["sensors"]]
    assert shown and any(sensor["zone"] for sensor in shown)
    for sensor in shown:
        assert sensor["zone"] == placed[sensor["id"]]
        low, high = ranges[sensor["id"]]
        assert low <= sensor["latest"]["value"] <= high
        ts = sensor["latest"]["ts"]
        assert RFC3339_UTC.match(ts), f"not RFC 3339 UTC with Z: {ts!r}"
        assert datetime.fromisoformat(ts) == now


async def test_one_tick_writes_a_plausible_reading_for_every_sensor(demo: Demo) -> None:
    sensors = await unscoped_demo_sensors(sessions=demo.rt.sessions)
    assert len(sensors) == demo.first.sensors
    now = utc_now_ms()
    written = await Simulator(random.Random(7)).tick(demo.rt.ingest, sensors, now)
    assert written == len(sensors)
    await anyio.to_thread.run_sync(demo.rt.flusher.flush_once)
    scope = Scope(tenant_ids=frozenset(s.tenant_id for s in sensors))
    latest = await anyio.to_thread.run_sync(
        readings.latest, demo.rt.clickhouse, scope, [s.id for s in sensors]
    )
    assert set(latest) == {s.id for s in sensors}
    for sensor in sensors:
        reading = latest[sensor.id]
        assert as_utc(reading.ts) == now
        assert sensor.min_value <= reading.value <= sensor.max_value, sensor
        assert math.isfinite(reading.value)
    by_kind = _values_by_kind(sensors, {s.id: latest[s.id].value for s in sensors})
    assert all(19.5 <= v <= 23.5 for v in by_kind["oxygen"])  # normal air
    assert all(v < 25 for v in by_kind["combustible_gas"])  # below the first alarm level
    assert all(v < 1.0 for v in by_kind["methane"])  # below the CH4 alarm level
    assert all(40 <= v <= 180 for v in by_kind["heart_rate"])


async def test_readings_wander_but_stay_in_range(demo: Demo) -> None:
    sensors = await unscoped_demo_sensors(sessions=demo.rt.sessions)
    simulator = Simulator(random.Random(11))
    series: dict[uuid.UUID, list[float]] = {s.id: [] for s in sensors}
    start = datetime.now(UTC).timestamp()
    for step in range(30):
        columns = simulator.generate(sensors, datetime.fromtimestamp(start + 5 * step, UTC))
        for sensor_id, value in zip(columns[2], columns[4], strict=True):
            series[sensor_id].append(value)
    for sensor in sensors:
        values = series[sensor.id]
        assert all(sensor.min_value <= v <= sensor.max_value for v in values), sensor
    moving = sum(len(set(v)) > 1 for v in series.values())
    assert moving > len(sensors) * 0.9  # live values, not constants


async def test_pump_sensors_replay_the_skab_recording(demo: Demo) -> None:
    sensors = [
        s for s in await unscoped_demo_sensors(sessions=demo.rt.sessions) if s.code == "PT-901"
    ]
    assert sensors  # every chemical site has the pump
    # 300 kPa operating offset + the recorded relative pressure (bar → kPa), 0.1 kPa steps.
    recorded = {round(300 + 100 * bar, 1) for bar in _skab_values("Pressure")}
    simulator = Simulator(random.Random(3))
    start = datetime.now(UTC).timestamp()
    for step in range(20):
        columns = simulator.generate(sensors, datetime.fromtimestamp(start + step, UTC))
        assert set(columns[4]) <= recorded


async def test_simulator_runs_with_the_app_and_stops_on_shutdown(
    demo: Demo, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # The app's lifespan runs in the test client's own event loop thread: give it its own
    # runtime (same stores) rather than sharing this loop's connection pool.
    # Its own spool too: one process writes a spool directory.
    app_runtime = Runtime(dataclasses.replace(demo.rt.settings, spool_dir=tmp_path / "spool"))
    app = create_app(runtime=app_runtime)
    attach_simulator(app, sessions=lambda: app_runtime.sessions, ingest=lambda: app_runtime.ingest)
    sensors = await unscoped_demo_sensors(sessions=demo.rt.sessions)
    sample = [s.id for s in sensors[:: max(1, len(sensors) // 10)]]
    scope = Scope(tenant_ids=frozenset(s.tenant_id for s in sensors))
    before = await anyio.to_thread.run_sync(readings.latest, demo.rt.clickhouse, scope, sample)
    try:
        async with AsyncTestClient(app=app):
            deadline = time.monotonic() + 30
            while True:
                latest = await anyio.to_thread.run_sync(
                    readings.latest, demo.rt.clickhouse, scope, sample
                )
                fresh = [i for i, r in latest.items() if i not in before or r.ts > before[i].ts]
                if len(fresh) == len(sample) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert len(fresh) == len(sample)
        task = app.state.simulator
        assert task.done() and task.cancelled()
    finally:
        await app_runtime.close()
    assert "simulator tick failed" not in caplog.text


class FlakySimulator(Simulator):
    """Fails its first tick, as when the store is briefly unreachable; counts the ticks."""

    def __init__(self, rng: random.Random, wanted: int) -> None:
        super().__init__(rng)
        self.calls = 0
        self.wanted = wanted
        self.enough = threading.Event()

    async def tick(
        self, ingest: Ingest, sensors: Sequence[SimSensor], now: datetime | None = None
    ) -> int:
        self.calls += 1
        if self.calls >= self.wanted:
            self.enough.set()
        if self.calls == 1:
            raise RuntimeError("ClickHouse went away")
        return await super().tick(ingest, sensors, now)


async def test_a_failed_tick_is_logged_and_the_loop_goes_on(
    demo: Demo, caplog: pytest.LogCaptureFixture
) -> None:
    simulator = FlakySimulator(random.Random(2), wanted=3)
    running = run_simulator(
        sessions=demo.rt.sessions, ingest=demo.rt.ingest, simulator=simulator, interval=0.05
    )
    task = asyncio.create_task(running)
    await anyio.to_thread.run_sync(simulator.enough.wait, 30)
    assert not task.done()  # the failed tick did not end the loop
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert simulator.calls >= 3
    assert task.cancelled()
    assert "simulator tick failed" in caplog.text and "ClickHouse went away" in caplog.text


async def test_the_demo_leak_goes_red_and_clears(demo: Demo) -> None:
    """The demo's scripted leak crosses both GB/T 50493 levels and falls below the deadband."""
    from backend.demo.simulator import LEAK_PERIOD_S, LEAK_STEP_S

    gas = [s for s in await unscoped_demo_sensors(sessions=demo.rt.sessions) if s.code == "GT-101"]
    assert gas and all(s.kind == "combustible_gas" for s in gas)
    simulator = Simulator(random.Random(1), leak_sensor_code="GT-101")
    start = (int(datetime.now(UTC).timestamp()) // LEAK_PERIOD_S) * LEAK_PERIOD_S
    episode = [
        simulator.value(gas[0], datetime.fromtimestamp(start + step * LEAK_STEP_S, UTC))
        for step in range(LEAK_PERIOD_S // LEAK_STEP_S)
    ]
    assert max(episode) >= 50  # the 2nd level: RED
    assert episode.index(max(episode)) > 0 and episode[-1] < 23  # rises, then clears
    quiet = Simulator(random.Random(1))  # tests and plain `serve` run no leak
    assert quiet.value(gas[0], datetime.fromtimestamp(start + 5 * LEAK_STEP_S, UTC)) < 25


async def test_simulated_sensors_walk_inside_the_limits_of_where_they_hang(demo: Demo) -> None:
    """The simulator reads each sensor's industry and zone kind, so its values keep inside the
    rules that sensor gets: a coal working face below its 26 °C and 4 m/s (煤矿安全规程), a
    mine's hoist room and substation below the 30 °C of machine chambers."""
    sensors = await unscoped_demo_sensors(sessions=demo.rt.sessions)
    zones = {z.id: z.kind.value for z in await all_rows(demo.rt, Zone)}
    placed = {s.id: zones.get(s.zone_id) for s in await all_rows(demo.rt, Sensor)}
    tenants = {t.id: t.industry.value for t in await all_rows(demo.rt, Tenant)}
    for sensor in sensors:
        assert sensor.industry == tenants[sensor.tenant_id]
        assert sensor.zone_kind == placed[sensor.id]
    mining = [s for s in sensors if s.industry == "mining"]
    by_place = {(s.kind, s.zone_kind): walk_for(s) for s in mining}
    assert by_place[("temperature", "working_face")].ceiling < 26
    assert by_place[("wind_speed", "working_face")].ceiling < 4
    assert 26 <= by_place[("temperature", "hoisting")].ceiling < 30
    assert by_place[("temperature", "general")].ceiling < 30
