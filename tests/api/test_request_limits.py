"""What one GraphQL request may cost: the budget known before it runs, operations in flight per
caller and ClickHouse queries at once, ClickHouse's own per-query limits, the answer's size.

The attack these stop: a viewer's 9 KB document of 50 aliased ten-day charts at 87 s buckets
took ~50 s and 72 MB alone, and 16 at once made the server unresponsive for minutes.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest
from graphql import parse

from backend.api import limits as api_limits
from backend.api.limits import estimate_cost, principal_key
from backend.api.schema import build_schema
from backend.auth.principal import Principal
from backend.core.errors import ConfigurationError, LimitExceeded
from backend.core.limits import Limits, load_limits
from backend.runtime import Runtime
from backend.telemetry import query as ch_query
from backend.telemetry.query import QueryGuard
from tests.factories import World
from tests.graphql import GraphQLClient, Result
from tests.ingest_helpers import eventually, new_device, new_site, post, telemetry_body
from tests.server import anjian, anjian_json, served

BUDGET = Limits().graphql_cost_budget
SCHEMA = build_schema()._schema
CHART = """
query($s: ID!, $f: DateTime!, $t: DateTime!, $b: Int) {
  telemetry(sensorId: $s, from: $f, to: $t, bucketSeconds: $b) { ts min max avg count last }
}"""
CONTRACT_SITES = (
    "{ sites { id name divisionCode sensors { id code kind unit zone latest { ts value } } } }"
)


def iso_z(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def attack(sensor_id: str, *, aliases: int = 50, days: int = 10, bucket: int = 87) -> str:
    """The probe's document: aliased charts of one sensor, written with literals."""
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    one = (
        f'telemetry(sensorId: "{sensor_id}", from: "{iso_z(start)}", to: "{iso_z(end)}", '
        f"bucketSeconds: {bucket}) {{ ts min max avg count last }}"
    )
    return "query { " + " ".join(f"a{n}: {one}" for n in range(aliases)) + " }"


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    estimate = estimate_cost(SCHEMA, parse(document), None, variables)
    assert estimate is not None
    return estimate.total


def chart_variables(
    sensor: uuid.UUID, start: datetime, end: datetime, bucket: int
) -> dict[str, Any]:
    return {"s": str(sensor), "f": iso_z(start), "t": iso_z(end), "b": bucket}


@pytest.fixture
def clickhouse_queries(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement sent to the session's ClickHouse client during the test."""
    sent: list[str] = []
    original = runtime.clickhouse.query

    def query(sql: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(sql)
        return original(sql, *args, **kwargs)

    monkeypatch.setattr(runtime.clickhouse, "query", query)
    return sent


@pytest.fixture
def clickhouse_limits() -> Iterator[None]:
    """Restores the process's ClickHouse limits after a test that lowers them."""
    before = ch_query.current_limits()
    yield
    ch_query.configure(before)


# --- the cost model ----------------------------------------------------------------------------


def test_the_probes_document_costs_far_over_the_budget() -> None:
    document = attack(str(uuid.uuid4()))
    assert 8_000 < len(document.encode()) < 10_000  # the probe's 9 KB
    total = cost(document)
    # 50 charts of ten days at 87 s: 9,931 buckets each (9,932 epoch-aligned buckets touched).
    assert total >= 50 * 9_931
    assert total > 5 * BUDGET


def test_lists_multiply_the_cost_of_what_they_contain() -> None:
    nominal = api_limits.NOMINAL_LIST_SIZES
    sites, sensors = nominal["Query.sites"], nominal["Site.sensors"]
    # Each site, each of its sensors and each latest reading is a row of the answer.
    assert cost(CONTRACT_SITES) == sites * (1 + sensors * (1 + 1))
    assert cost("{ sites { id name } }") == sites
    # A page is as long as its first:, the default page included.
    assert cost("{ alarms(first: 1000) { id sensor { id } site { id } } }") == 1000 * 3
    assert cost("{ alarms { id } }") == 100
    assert cost("query($n: Int!) { alarms(first: $n) { id } }", {"n": 7}) == 7
    # Scalars are free; objects count once each.
    assert cost("{ me { email } }") == 1


def test_telemetry_costs_its_buckets_and_its_queries() -> None:
    sensor = uuid.uuid4()
    day = datetime(2026, 11, 28, tzinfo=UTC)
    queries = api_limits.QUERY_COST * 3
    assert cost(CHART, chart_variables(sensor, day, day + timedelta(days=1), 60)) == 1440 + queries
    week = chart_variables(sensor, day, day + timedelta(days=7), 3600)
    assert cost(CHART, week) == 168 + queries
    # Without bucketSeconds the field picks about 300 buckets (a week: hours).
    assert cost(CHART, {**week, "b": None}) == 168 + queries
    # An unaligned start touches one more epoch-aligned bucket.
    ragged = chart_variables(sensor, day + timedelta(seconds=30), day + timedelta(hours=1), 60)
    assert cost(CHART, ragged) == 60 + queries


@pytest.mark.parametrize(
    ("start", "end", "bucket"),
    [
        ("2026-06-02T00:00:00Z", "2026-06-02T00:00:00Z", 60),  # empty range
        ("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z", 0),
        ("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z", 8),  # over MAX_BUCKETS
        ("2026-06-01T00:00:00", "2026-06-02T00:00:00Z", 60),  # no zone: refused by coercion
    ],
)
def test_charts_the_field_refuses_cost_nothing_but_their_queries(
    start: str, end: str, bucket: int
) -> None:
    """Such a field answers BAD_USER_INPUT without reading a bucket, so its own error stays
    the answer (a zone-less variable does not even coerce: no estimate at all)."""
    variables = {"s": str(uuid.uuid4()), "f": start, "t": end, "b": bucket}
    estimate = estimate_cost(SCHEMA, parse(CHART), None, variables)
    assert estimate is None or estimate.total == api_limits.QUERY_COST * 3


def test_fragments_directives_and_merged_keys() -> None:
    # The same response key twice is one field, as execution merges it.
    assert cost("{ sites { id } sites { name } }") == cost("{ sites { id name } }")
    # Fragments are expanded wherever they are spread.
    spread = "{ sites { ...S } } fragment S on Site { sensors { id } }"
    assert spread and cost(spread) == cost("{ sites { sensors { id } } }")
    # Aliases are separate fields, each counted.
    assert cost("{ a: sites { id } b: sites { id } }") == 2 * cost("{ sites { id } }")
    # @skip and @include are honoured, from literals or variables.
    skipped = (
        "query($no: Boolean!) { a: sites @skip(if: $no) { id } b: me @include(if: $no) { id } }"
    )
    assert cost(skipped, {"no": True}) == cost("{ me { id } }")
    assert cost(skipped, {"no": False}) == cost("{ sites { id } }")


def test_limits_are_settings() -> None:
    chosen = load_limits({"ANJIAN_GRAPHQL_COST_BUDGET": "1234", "ANJIAN_GRAPHQL_MAX_IN_FLIGHT": ""})
    assert chosen.graphql_cost_budget == 1234
    assert chosen.graphql_max_in_flight == Limits().graphql_max_in_flight
    for bad in ("0", "-3", "many"):
        with pytest.raises(ConfigurationError, match="ANJIAN_CLICKHOUSE_MAX_RESULT_ROWS"):
            load_limits({"ANJIAN_CLICKHOUSE_MAX_RESULT_ROWS": bad})


def test_anonymous_callers_are_counted_by_address_through_a_trusted_proxy() -> None:
    settings = SimpleNamespace(trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),))

    def context(peer: str, forwarded: str) -> SimpleNamespace:
        request = SimpleNamespace(
            client=SimpleNamespace(host=peer), headers={"x-forwarded-for": forwarded}
        )
        return SimpleNamespace(
            principal=Principal.anonymous(),
            request=request,
            runtime=SimpleNamespace(settings=settings),
        )

    assert principal_key(context("10.0.0.5", "203.0.113.7")) == "address:203.0.113.7"
    assert principal_key(context("10.0.0.5", "203.0.113.8")) == "address:203.0.113.8"
    # From a peer that is no trusted proxy the header is the caller's own claim: ignored.
    assert principal_key(context("198.51.100.1", "203.0.113.7")) == "address:198.51.100.1"
    user = Principal("user", id=uuid.UUID(int=1))
    assert principal_key(SimpleNamespace(principal=user)) == f"user:{uuid.UUID(int=1)}"


# --- the budget, end to end --------------------------------------------------------------------


async def test_the_fifty_alias_attack_is_refused_before_anything_runs(
    api: GraphQLClient, world: World, clickhouse_queries: list[str]
) -> None:
    token = await api.token_for(world.a.users["viewer"])
    result = await api.query(attack(str(world.a.sensor_ids["GT-101"])), token=token)
    assert result.codes == ["QUERY_TOO_COSTLY"], result.body
    assert result.data is None
    [error] = result.body["errors"]
    assert error["extensions"]["budget"] == BUDGET
    assert error["extensions"]["cost"] >= 50 * 9_931
    assert f"{error['extensions']['cost']:,}" in error["message"]
    assert f"{BUDGET:,}" in error["message"]
    assert clickhouse_queries == []


async def test_a_console_page_fits_the_budget(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    """The contract's sites query over a site of 1,000 sensors with their latest values, a day
    of one sensor at 60 s and a week at 1 h, and a page of alarms: one request, answered."""
    site = await new_site(runtime, world.a.tenant_id)
    sensors = [{"code": f"TT-{n:04d}", "kind": "temperature", "unit": "°C"} for n in range(1000)]
    device = await new_device(runtime, world.a.tenant_id, site, sensors)
    now = datetime.now(UTC)
    batch = [
        {"sensor": spec["code"], "ts": iso_z(now - timedelta(minutes=1)), "value": 20.5}
        for spec in sensors
    ]
    response = await post(api.http, device, "telemetry", telemetry_body(batch))
    assert response.status_code == 202, response.text
    page = (
        "query($s: ID!, $dayFrom: DateTime!, $weekFrom: DateTime!, $to: DateTime!) {"
        + CONTRACT_SITES[1:-1]
        + " day: telemetry(sensorId: $s, from: $dayFrom, to: $to, bucketSeconds: 60) { ts avg }"
        " week: telemetry(sensorId: $s, from: $weekFrom, to: $to, bucketSeconds: 3600) { ts avg }"
        " alarms(first: 100) { id severity status sensor { id code } site { id name } } }"
    )
    variables = {
        "s": str(device.sensors["TT-0000"]),
        "dayFrom": iso_z(now - timedelta(days=1)),
        "weekFrom": iso_z(now - timedelta(days=7)),
        "to": iso_z(now),
    }
    assert cost(page, variables) <= BUDGET
    token = await api.token_for(world.a.users["viewer"])

    def answered(result: Result) -> bool:
        found = [s for s in (result.data or {}).get("sites", []) if s["id"] == str(site)]
        return bool(found) and all(x["latest"] for x in found[0]["sensors"])

    result = await eventually(lambda: api.query(page, variables, token=token), answered)
    assert result.code is None, result.body
    [mine] = [s for s in result.data["sites"] if s["id"] == str(site)]
    assert len(mine["sensors"]) == 1000
    assert {s["latest"]["value"] for s in mine["sensors"]} == {20.5}
    assert [b["avg"] for b in result.data["day"]] == [20.5]


# --- operations in flight ------------------------------------------------------------------------


class BlockedCharts:
    """Charts of one sensor whose ClickHouse queries wait until released: requests that stay in
    flight for as long as a test needs."""

    def __init__(self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, sensor: uuid.UUID):
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)
        original = runtime.clickhouse.query

        def query(sql: str, *args: Any, parameters: Any = None, **kwargs: Any) -> Any:
            if parameters and parameters.get("sensor_id") == str(sensor):
                self.entered.release()
                self.release.wait(30)
            return original(sql, *args, parameters=parameters, **kwargs)

        monkeypatch.setattr(runtime.clickhouse, "query", query)

    async def wait_entered(self, count: int) -> None:
        for _ in range(count):
            assert await anyio.to_thread.run_sync(lambda: self.entered.acquire(timeout=20))


@asynccontextmanager
async def concurrent(api: GraphQLClient) -> AsyncIterator[Callable[..., Awaitable[Result]]]:
    """Queries to the same running app that are served at the same time (the Litestar test
    client hands the app one request at a time)."""
    transport = httpx.ASGITransport(app=api.http.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:

        async def send(document: str, variables: Any = None, *, as_user: str) -> Result:
            token = await api.token_for(as_user)
            response = await http.post(
                "/graphql",
                json={"query": document, "variables": variables or {}},
                headers={"Authorization": f"Bearer {token}"},
            )
            return Result(response.status_code, response.json())

        yield send


def retry_after(result: Result) -> int:
    [error] = result.body["errors"]
    return int(error["extensions"]["retryAfterSeconds"])


async def test_operations_over_the_callers_in_flight_limit_are_rate_limited(
    api: GraphQLClient, runtime: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sensor = world.a.sensor_ids["TT-201"]
    blocked = BlockedCharts(runtime, monkeypatch, sensor)
    limit = runtime.settings.limits.graphql_max_in_flight_per_principal
    viewer = world.a.users["viewer"]
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    variables = chart_variables(sensor, now - timedelta(hours=1), now, 60)
    async with concurrent(api) as send:
        held = [asyncio.create_task(send(CHART, variables, as_user=viewer)) for _ in range(limit)]
        try:
            await blocked.wait_entered(limit)
            refused = await send("{ me { email } }", as_user=viewer)
            assert refused.codes == ["RATE_LIMITED"], refused.body
            assert refused.data is None
            assert retry_after(refused) >= 1
            assert str(limit) in refused.body["errors"][0]["message"]
            # Another caller is served meanwhile.
            other = await send("{ me { email } }", as_user=world.a.users["operator"])
            assert other.code is None, other.body
        finally:
            blocked.release.set()
        for answer in await asyncio.gather(*held):
            assert answer.code is None, answer.body
        again = await send("{ me { email } }", as_user=viewer)
        assert again.code is None, again.body


async def test_queries_over_the_clickhouse_cap_are_rate_limited(
    api: GraphQLClient, runtime: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ClickHouse slot of the process is taken: another caller's chart waits a moment,
    then is told to retry, instead of holding a thread and a connection indefinitely."""
    monkeypatch.setattr(ch_query, "QUEUE_SECONDS", 0.3)
    slots = ch_query.current_limits().clickhouse_max_concurrent_queries
    sensor = world.a.sensor_ids["TT-201"]
    blocked = BlockedCharts(runtime, monkeypatch, sensor)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    variables = chart_variables(sensor, now - timedelta(hours=1), now, 60)
    users = [world.a.users[role] for role in ("owner", "safety_manager", "operator", "viewer")]
    for user in users:
        await api.token_for(user)
    async with concurrent(api) as send:
        held = [
            asyncio.create_task(send(CHART, variables, as_user=users[n % len(users)]))
            for n in range(slots)
        ]
        try:
            await blocked.wait_entered(slots)
            other = chart_variables(world.b.sensor_ids["TT-201"], now - timedelta(hours=1), now, 60)
            refused = await send(CHART, other, as_user=world.b.users["viewer"])
            assert refused.codes == ["RATE_LIMITED"], refused.body
            assert retry_after(refused) >= 1
            assert refused.body["errors"][0]["extensions"]["limit"] == (
                "clickhouse_max_concurrent_queries"
            )
        finally:
            blocked.release.set()
        for answer in await asyncio.gather(*held):
            assert answer.code is None, answer.body


async def test_work_in_flight_over_the_process_cap_is_rate_limited(
    api: GraphQLClient, runtime: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many accounts send them, the rows being answered at once are capped; a cheap
    request still runs beside a big one."""
    sensor = world.a.sensor_ids["TT-201"]
    blocked = BlockedCharts(runtime, monkeypatch, sensor)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    variables = chart_variables(sensor, now - timedelta(hours=1), now, 60)
    chart = cost(CHART, variables)
    limits = replace(runtime.settings.limits, graphql_max_cost_in_flight=chart + 10)
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, limits=limits))
    async with concurrent(api) as send:
        held = asyncio.create_task(send(CHART, variables, as_user=world.a.users["owner"]))
        try:
            await blocked.wait_entered(1)
            other = chart_variables(world.b.sensor_ids["TT-201"], now - timedelta(hours=1), now, 60)
            refused = await send(CHART, other, as_user=world.b.users["viewer"])
            assert refused.codes == ["RATE_LIMITED"], refused.body
            assert retry_after(refused) >= 1
            assert refused.body["errors"][0]["extensions"]["limit"] == "graphql_max_cost_in_flight"
            cheap = await send("{ me { email } }", as_user=world.b.users["viewer"])
            assert cheap.code is None, cheap.body
        finally:
            blocked.release.set()
        assert (await held).code is None
        served = await send(CHART, other, as_user=world.b.users["viewer"])
        assert served.code is None, served.body


async def test_a_long_chart_leaves_the_event_loop_to_others(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    """A 10,000-bucket chart takes this process seconds to serve; meanwhile the event loop
    must keep turning (it answers /healthz and every other request), not wait for it all."""
    device = await new_device(runtime, world.a.tenant_id, world.a.site_id)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=10)
    stamps = [start + timedelta(minutes=n) for n in range(10 * 24 * 60)]
    for offset in range(0, len(stamps), 10_000):
        batch = [
            {"sensor": "TT-1", "ts": iso_z(ts), "value": 20.0}
            for ts in stamps[offset : offset + 10_000]
        ]
        assert (await post(api.http, device, "telemetry", telemetry_body(batch))).status_code == 202
    variables = chart_variables(device.sensors["TT-1"], start, end, 87)
    viewer = world.a.users["viewer"]
    landed = await eventually(
        lambda: api.query(CHART, variables, as_user=viewer),
        lambda r: len((r.data or {}).get("telemetry") or []) > 9_900,
    )
    assert len(landed.data["telemetry"]) > 9_900, landed.body
    # The new device moved the registry: the app's rules watch reloads every rule of the
    # session's many tenants on this same loop. Let that pass before the loop is timed.
    engine = api.http.app.state.alarms.evaluator
    await eventually(lambda: engine.loaded_sensors, lambda loaded: device.sensors["TT-1"] in loaded)

    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    with collector_pauses() as pauses:
        async with concurrent(api) as send:
            await api.token_for(viewer)
            ticking = asyncio.create_task(ticker())
            started = time.monotonic()
            result = await send(CHART, variables, as_user=viewer)
            took = time.monotonic() - started
            done.set()
            await ticking
    assert result.code is None and len(result.data["telemetry"]) > 9_900
    # Served in one piece, the loop would stand still for most of the request (~80 % of it);
    # paced, it turns every few milliseconds. Half leaves room for a busy machine's stalls.
    assert max(gaps) < took / 2, (max(gaps), took, "collector pauses", sorted(pauses)[-3:])


@contextmanager
def collector_pauses() -> Iterator[list[float]]:
    """The garbage collector's pauses meanwhile, with everything the test session allocated
    before frozen out of its reach: late in a full run a full collection walks hundreds of
    megabytes of other tests' objects, a pause of the test process, not of the code served."""
    pauses: list[float] = []
    began: list[float] = []

    def timed(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            began.append(time.monotonic())
        elif began:
            pauses.append(time.monotonic() - began.pop())

    gc.collect()
    gc.freeze()
    gc.callbacks.append(timed)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(timed)
        gc.unfreeze()


# --- limits hit while running ------------------------------------------------------------------


async def _chart_with_data(api: GraphQLClient, runtime: Runtime, world: World) -> dict[str, Any]:
    """A sensor of its own with a reading a minute over the last half hour; the variables of a
    chart over it at 60 s (30 buckets)."""
    device = await new_device(runtime, world.a.tenant_id, world.a.site_id)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(minutes=30)
    batch = [
        {"sensor": "TT-1", "ts": iso_z(start + timedelta(minutes=n)), "value": float(n)}
        for n in range(30)
    ]
    assert (await post(api.http, device, "telemetry", telemetry_body(batch))).status_code == 202
    variables = chart_variables(device.sensors["TT-1"], start, end, 60)
    viewer = world.a.users["viewer"]
    landed = await eventually(
        lambda: api.query(CHART, variables, as_user=viewer),
        lambda r: len((r.data or {}).get("telemetry") or []) == 30,
    )
    assert landed.code is None and len(landed.data["telemetry"]) == 30, landed.body
    return variables


@pytest.mark.parametrize(
    ("lowered", "limit"),
    [
        ({"clickhouse_max_result_rows": 10}, "max_result_rows"),
        ({"clickhouse_max_result_bytes": 100}, "max_result_bytes"),
        ({"clickhouse_max_memory_bytes": 1}, "max_memory_usage"),
    ],
)
async def test_a_clickhouse_limit_hit_is_a_named_error(
    api: GraphQLClient,
    runtime: Runtime,
    world: World,
    clickhouse_limits: None,
    lowered: dict[str, int],
    limit: str,
) -> None:
    variables = await _chart_with_data(api, runtime, world)
    ch_query.configure(replace(ch_query.current_limits(), **lowered))
    result = await api.query(CHART, variables, as_user=world.a.users["viewer"])
    assert result.codes == ["LIMIT_EXCEEDED"], result.body
    [error] = result.body["errors"]
    assert error["extensions"]["limit"] == limit
    assert limit in error["message"]


@pytest.mark.parametrize(
    ("sql", "settings", "limit"),
    [
        (
            "SELECT count() FROM numbers(100000000000)",
            {"max_execution_time": 1},
            "max_execution_time",
        ),
        ("SELECT number FROM numbers(100000)", {"max_result_rows": 10}, "max_result_rows"),
        ("SELECT number FROM numbers(100000)", {"max_result_bytes": 10}, "max_result_bytes"),
        (
            "SELECT groupArray(number) FROM numbers(10000000)",
            {"max_memory_usage": 1024 * 1024},
            "max_memory_usage",
        ),
    ],
)
def test_the_engines_limit_errors_are_recognised(
    runtime: Runtime, sql: str, settings: dict[str, int], limit: str
) -> None:
    """The error codes the embedded engine really raises for each limit (159, 396, 241)."""
    guard = QueryGuard(Limits())
    with pytest.raises(Exception) as raised:
        runtime.clickhouse.query(sql, settings={**guard.settings, **settings})
    error = guard.limit_error(raised.value)  # type: ignore[arg-type]
    assert isinstance(error, LimitExceeded), raised.value
    assert error.details["limit"] == limit


async def test_an_answer_over_the_size_limit_is_a_named_error(
    api: GraphQLClient, runtime: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = runtime.settings
    monkeypatch.setattr(
        runtime,
        "settings",
        replace(settings, limits=replace(settings.limits, graphql_max_response_bytes=400)),
    )
    viewer = world.a.users["viewer"]
    result = await api.query(CONTRACT_SITES, as_user=viewer)
    assert result.codes == ["LIMIT_EXCEEDED"], result.body
    assert result.data is None
    [error] = result.body["errors"]
    assert error["extensions"]["limit"] == "max_response_bytes"
    assert "400" in error["message"]
    small = await api.query("{ me { email } }", as_user=viewer)
    assert small.code is None, small.body


# --- the probe's attack against a real server ------------------------------------------------

PROBE_PASSWORD = "Probe-owner-pw-8431"
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }"


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def _probe_health(url: str, stop: asyncio.Event, latencies: list[float]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while not stop.is_set():
            started = time.monotonic()
            response = await client.get("/healthz")
            assert response.status_code == 200
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.2)


async def _attack_served(url: str, pid: int, token: str, sensor: str) -> None:
    owner_token = await _login(url)
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        start = end - timedelta(days=10)
        stamps = [start + timedelta(minutes=n) for n in range(10 * 24 * 60)]
        for offset in range(0, len(stamps), 10_000):
            batch = [
                {"sensor": "TT-1", "ts": iso_z(ts), "value": 20.0 + n % 7}
                for n, ts in enumerate(stamps[offset : offset + 10_000])
            ]
            response = await client.post(
                "/api/v1/telemetry",
                content=telemetry_body(batch),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            assert response.status_code == 202, response.text
        headers = {"Authorization": f"Bearer {owner_token}"}
        day = {
            "query": CHART,
            "variables": chart_variables(uuid.UUID(sensor), end - timedelta(days=1), end, 60),
        }

        async def chart() -> dict[str, Any]:
            return (await client.post("/graphql", json=day, headers=headers)).json()

        landed = await eventually(
            chart, lambda b: len((b.get("data") or {}).get("telemetry") or []) == 1440
        )
        assert len(landed["data"]["telemetry"]) == 1440, landed

        rss_before = _rss_mib(pid)
        stop, latencies = asyncio.Event(), []
        prober = asyncio.create_task(_probe_health(url, stop, latencies))
        document = {"query": attack(sensor)}
        started = time.monotonic()
        answers = await asyncio.gather(
            *(client.post("/graphql", json=document, headers=headers) for _ in range(16))
        )
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.5)
        stop.set()
        await prober
        for answer in answers:
            body = answer.json()
            assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COSTLY"], body
        # Generous bounds: before, none of the 16 answered within 15 minutes, /healthz timed
        # out for most of that time and the server grew by 800 MiB.
        assert elapsed < 60, elapsed
        assert latencies and max(latencies) < 5, latencies
        assert _rss_mib(pid) - rss_before < 256
        normal = await chart()
        assert "errors" not in normal and len(normal["data"]["telemetry"]) == 1440, normal


async def _login(url: str) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": LOGIN,
                "variables": {"e": "owner@probe.example.cn", "p": PROBE_PASSWORD},
            },
        )
    return str(response.json()["data"]["login"]["token"])


@pytest.mark.slow
def test_sixteen_attacks_at_once_are_refused_while_the_server_stays_responsive(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    anjian(data, "migrate")
    tenant = anjian_json(
        data,
        *("tenant", "create", "--name", "压测化工", "--division", "320100"),
        *("--industry", "chemical", "--owner-email", "owner@probe.example.cn"),
        *("--owner-password", PROBE_PASSWORD),
    )["tenant_id"]
    site = anjian_json(
        data, "site", "create", "--tenant", tenant, "--name", "一厂", "--division", "320102"
    )["site_id"]
    sensors = tmp_path / "sensors.json"
    sensors.write_text(json.dumps([{"code": "TT-1", "kind": "temperature", "unit": "°C"}]))
    device = anjian_json(
        data, "device", "create", "--site", site, "--name", "探测器", "--sensors", str(sensors)
    )
    with served(data) as server:
        asyncio.run(
            _attack_served(
                server.url, server.process.pid, device["token"], device["sensors"]["TT-1"]
            )
        )
