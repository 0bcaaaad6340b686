"""``anjian bench oversight``: the government portal's queries on a province-sized world.

A scratch data dir gets a world shaped like Jiangsu's (``backend.bench.oversight.world``: at
scale 1, 2,000 enterprises with 5,000 sites over the province's counties, 10,000 devices and
100,000 sensors). Its relational rows are written in bulk through the models; a child process
(``backend.bench.oversight.engine``) writes ClickHouse: 17 hours of one reading a minute per
sensor (about 100 million at scale 1) through the flusher's insert, topped up to the current
minute, and the rest of the month as hourly rollups. Some devices and sensors are silent,
flat or saturated, so data quality has work.

Then ``anjian serve`` runs on it, and a provincial (320000), a city (南京市 320100) and a county
(雨花台区 320114) regulator, each signed in, send the portal's queries over HTTP: the
overview (``jurisdiction`` with its children), ``siteRisks``, ``enterpriseRankings``,
``dataQuality`` and ``onlineRateHistory``, each ``repeat`` times after one unmeasured call,
as soon as the server answers: the raw readings end at the minute the server starts, so every
device is still online while the queries run. With ``feed``, the world's healthy devices go on
reporting over the device API meanwhile (``backend.bench.oversight.feed``), a province's live
ingest on the same server.
Reported: p50/p95/p99 per query and level against the targets (p95 ≤ 300 ms for the province,
≤ 150 ms for a county), the server's RSS, the counts the server reported beside those built,
and the build's durations. Once the server has stopped, the ClickHouse queries behind each
field run directly through clickhouse-connect with the same scope (the server's figure over
the engine's is the ratio: what the relational queries, Python and GraphQL add).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from backend.bench.harness import (
    BenchmarkFailed,
    anjian_json,
    graphql,
    login,
    peak_rss_mib,
    rss_mib,
    scratch_env,
    serving,
)
from backend.bench.oversight import world as world_module
from backend.bench.oversight.feed import Feed, FeedFigures
from backend.bench.oversight.world import LEVELS, RAW_HOURS, Expected, World
from backend.core.settings import load_settings

PASSWORD = "bench-password-1"
TARGET_P95_MS = {"province": 300.0, "city": 300.0, "county": 150.0}

QUERIES: dict[str, str] = {
    "jurisdiction": (
        "{ jurisdiction { divisionCode name enterprises sites majorHazardSources onlineRate "
        "riskColor overdueUnacknowledged overdueNotices activeAlarms { severity count } "
        "majorHazardSourcesByGrade { grade count } children { divisionCode name enterprises "
        "sites majorHazardSources onlineRate riskColor activeAlarms { severity count } } } }"
    ),
    "siteRisks": (
        "{ siteRisks(first: 50) { site { id name divisionCode } riskColor onlineRate "
        "activeAlarmCount majorHazardGrade } }"
    ),
    "enterpriseRankings": (
        "{ enterpriseRankings(first: 50) { tenant { id name } sites sensors onlineRate alarms "
        "mttaSeconds falsePositiveRate overdueNotices } }"
    ),
    "dataQuality": (
        "{ dataQuality(first: 100) { divisionCode sensors stale flatline outOfRange "
        "offlineDevices points { problem since lastSeen lastValue sensor { id code } "
        "site { id name } } } }"
    ),
    "onlineRateHistory": "{ onlineRateHistory(days: 30) { day rate } }",
}
# The engine's queries behind each field (``engine.measure``), for the ratio.
ENGINE_QUERY = {
    "jurisdiction": "online",
    "siteRisks": "online",
    "enterpriseRankings": "online",
    "dataQuality": "quality",
    "onlineRateHistory": "history",
}


@dataclass
class QueryFigures:
    level: str
    division_code: str
    query: str
    repeat: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    target_p95_ms: float
    meets_target: bool
    engine_p50_ms: float
    ratio_to_engine: float


@dataclass
class OversightFigures:
    scale: float
    enterprises: int
    sites: int
    devices: int
    sensors: int
    raw_readings: int
    history_rows: int
    build_s: dict[str, float]
    queries: list[QueryFigures]
    # Per level: what the server reported, and what was built there.
    reported: dict[str, dict[str, int]]
    built: dict[str, dict[str, int]]
    server_rss_mib: float
    server_peak_rss_mib: float
    feed: FeedFigures | None  # with ``feed``
    meets_targets: bool
    notes: list[str] = field(default_factory=list)


def _stderr() -> Console:
    return Console(stderr=True)


def _engine(data_dir: Path, *args: str) -> dict[str, object]:
    """``backend.bench.oversight.engine`` in a child process: its JSON; progress on stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "backend.bench.oversight.engine", args[0], str(data_dir), *args[1:]],
        env=scratch_env(data_dir),
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    if done.returncode != 0:
        raise BenchmarkFailed(f"the engine step {args[0]} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _regulators(data_dir: Path) -> dict[str, str]:
    """A director per level measured: level → e-mail."""
    emails = {}
    for level, code in LEVELS:
        email = f"bench-{level}@example.gov.cn"
        anjian_json(
            data_dir,
            "regulator",
            "create",
            "--division",
            code,
            "--email",
            email,
            "--password",
            PASSWORD,
            "--role",
            "director",
        )
        emails[level] = email
    return emails


def _relational(data_dir: Path, world: World) -> dict[str, int]:
    settings = load_settings(scratch_env(data_dir))
    total = len(world.tenants) + 2 * len(world.sites) + len(world.devices) + world.sensors
    with Progress(
        TextColumn("[bold]relational rows"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_stderr(),
        transient=True,
    ) as progress:
        task = progress.add_task("rows", total=total)
        return world_module.insert_relational(
            settings, world, lambda _table, n: progress.advance(task, n)
        )


def _percentile(sorted_ms: list[float], p: float) -> float:
    return round(sorted_ms[min(len(sorted_ms) - 1, int(p * len(sorted_ms)))], 1)


def _time_queries(
    url: str, tokens: dict[str, str], repeat: int
) -> tuple[dict[tuple[str, str], list[float]], dict[str, dict[str, object]]]:
    """Each query of each level ``repeat`` times after one unmeasured call (whose answer is
    kept, to check the counts): the milliseconds, and the first answers."""
    timings: dict[tuple[str, str], list[float]] = {}
    answers: dict[str, dict[str, object]] = {}
    with Progress(
        TextColumn("[bold]queries[/] {task.fields[now]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_stderr(),
        transient=True,
    ) as progress:
        task = progress.add_task("queries", total=len(LEVELS) * len(QUERIES) * (repeat + 1), now="")
        # The counts first, for every level, before the world's last readings age.
        for level, _code in LEVELS:
            answers[level] = {}
            for name, query in QUERIES.items():
                answers[level][name] = graphql(url, query, {}, tokens[level])
                progress.advance(task)
        for level, _code in LEVELS:
            for name, query in QUERIES.items():
                progress.update(task, now=f"{level} {name}")
                times = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    graphql(url, query, {}, tokens[level])
                    times.append(1000 * (time.perf_counter() - started))
                    progress.advance(task)
                timings[(level, name)] = sorted(times)
    return timings, answers


def _reported(answers: dict[str, object]) -> dict[str, int]:
    j = answers["jurisdiction"]["jurisdiction"]  # type: ignore[index]
    q = answers["dataQuality"]["dataQuality"]  # type: ignore[index]
    return {
        "enterprises": int(j["enterprises"]),
        "sites": int(j["sites"]),
        "sensors": int(q["sensors"]),
        "offline_devices": int(q["offlineDevices"]),
        "stale": int(q["stale"]),
        "flatline": int(q["flatline"]),
        "out_of_range": int(q["outOfRange"]),
        "children": len(j["children"]),
        "site_risks": len(answers["siteRisks"]["siteRisks"]),  # type: ignore[index]
        "rankings": len(answers["enterpriseRankings"]["enterpriseRankings"]),  # type: ignore[index]
        "history_days": sum(
            1
            for d in answers["onlineRateHistory"]["onlineRateHistory"]  # type: ignore[index]
            if d["rate"] is not None and d["rate"] > 0
        ),
    }


def _built(expected: Expected) -> dict[str, int]:
    return asdict(expected)


def run(
    scale: float = 1.0,
    repeat: int = 20,
    data_dir: Path | None = None,
    keep: bool = False,
    raw_hours: int = RAW_HOURS,
    feed: bool = False,
) -> OversightFigures:
    if repeat < 1:
        raise ValueError("repeat is at least 1")
    scratch = data_dir or Path(tempfile.mkdtemp(prefix="anjian-bench-oversight-"))
    world = world_module.plan(scale)
    build_s: dict[str, float] = {}
    try:
        print(
            f"building {len(world.tenants):,} enterprises, {len(world.sites):,} sites, "
            f"{world.sensors:,} sensors in {scratch} …",
            file=sys.stderr,
        )
        started = time.perf_counter()
        anjian_json(scratch, "migrate")
        emails = _regulators(scratch)
        build_s["migrate_and_regulators"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        _relational(scratch, world)
        build_s["relational"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        built = _engine(scratch, "build", str(scale), str(raw_hours))
        build_s["clickhouse"] = round(time.perf_counter() - started, 1)
        for key in ("raw_s", "top_up_s", "history_s"):
            build_s[f"clickhouse_{key.removesuffix('_s')}"] = float(built[key])  # type: ignore[arg-type]
        # The first start gives every sensor its default alarm rules: minutes at scale 1.
        with serving(scratch, start_up_s=900) as (url, server), ExitStack() as live:
            reporting = live.enter_context(Feed(url, world)) if feed else None
            tokens = {level: login(url, email, PASSWORD) for level, email in emails.items()}
            timings, answers = _time_queries(url, tokens, repeat)
            rss = rss_mib(server.pid)
            peak = peak_rss_mib(server.pid)
        fed = reporting.figures() if reporting else None
        print("timing the engine's queries directly …", file=sys.stderr)
        engine = _engine(scratch, "measure", str(scale), str(repeat))
    finally:
        if data_dir is None and not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    queries = []
    for level, code in LEVELS:
        for name in QUERIES:
            ms = timings[(level, name)]
            engine_ms = float(engine[level][ENGINE_QUERY[name]])  # type: ignore[index]
            p50 = _percentile(ms, 0.50)
            p95 = _percentile(ms, 0.95)
            queries.append(
                QueryFigures(
                    level=level,
                    division_code=code,
                    query=name,
                    repeat=repeat,
                    p50_ms=p50,
                    p95_ms=p95,
                    p99_ms=_percentile(ms, 0.99),
                    max_ms=round(ms[-1], 1),
                    target_p95_ms=TARGET_P95_MS[level],
                    meets_target=p95 <= TARGET_P95_MS[level],
                    engine_p50_ms=engine_ms,
                    ratio_to_engine=round(p50 / engine_ms, 2) if engine_ms else float("nan"),
                )
            )
    return OversightFigures(
        scale=scale,
        enterprises=len(world.tenants),
        sites=len(world.sites),
        devices=len(world.devices),
        sensors=world.sensors,
        raw_readings=int(built["raw_readings"]),  # type: ignore[arg-type]
        history_rows=int(built["history_rows"]),  # type: ignore[arg-type]
        build_s=build_s,
        queries=queries,
        reported={level: _reported(answers[level]) for level, _ in LEVELS},
        built={level: _built(world.expected(code)) for level, code in LEVELS},
        server_rss_mib=round(rss, 1),
        server_peak_rss_mib=round(peak, 1),
        feed=fed,
        meets_targets=all(q.meets_target for q in queries),
        notes=[
            "repeat calls are sequential, one regulator at a time, after one unmeasured call",
            "engine_p50_ms: the ClickHouse queries behind the field, run directly after the "
            "server stopped, with the regulator's scope",
            "the silent devices, stale and saturated sensors raise their alarms on the server "
            "as they would; no rectification notices are built",
            "with feed: the world's healthy devices post their readings over the device API "
            "once a minute while the queries run",
        ],
    )


def as_dict(figures: OversightFigures) -> dict[str, object]:
    return asdict(figures)


def table(figures: OversightFigures) -> str:
    """The figures as a fixed-width table, a row per level and query."""
    lines = [
        f"{'level':<9}{'query':<20}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'target':>8}{'engine':>9}{'ratio':>8}",
    ]
    for q in figures.queries:
        lines.append(
            f"{q.level:<9}{q.query:<20}{q.p50_ms:>9.1f}{q.p95_ms:>9.1f}{q.p99_ms:>9.1f}"
            f"{q.max_ms:>9.1f}{('≤' + str(int(q.target_p95_ms))):>8}{q.engine_p50_ms:>9.1f}"
            f"{q.ratio_to_engine:>8.1f}{'' if q.meets_target else '  MISSED'}"
        )
    return "\n".join(lines)
