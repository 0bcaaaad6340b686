"""``anjian bench reports``: public hazard reports — submissions, tracking, and the regulators'
queue on a province's year of reports.

A scratch data dir gets a provincial director (320000) and a county inspector (玄武区 320102),
then the year of reports of ``backend.bench.reports.store`` (100,000 at scale 1, over
Jiangsu's counties), written in bulk through the models. ``anjian serve`` runs on it with the
proof of work at ``difficulty`` bits (``ANJIAN_REPORT_POW_DIFFICULTY``) and the loopback
address as a trusted proxy (``ANJIAN_TRUSTED_PROXIES``), so the bench's reporters can come from
many client addresses (``X-Forwarded-For``) and the per-address rate limit, still counted on
every request, refuses none of them. Then, over HTTP:

1. the queue: the director's ``hazardReports`` (the latest 50, and the 50 latest waiting to be
   accepted), each ``repeat`` times after one unmeasured call; the waiting ones are then paged
   through whole, and their count compared with what was built;
2. submissions without a photo: ``reports`` proofs fetched and solved ahead of time in worker
   processes, then spent by ``clients`` concurrent reporters on ``POST /api/v1/reports``;
3. submissions with one ~1 MB JPEG each (``POST /api/v1/reports/photos`` then the report);

while 2 and 3 run, a tracking process reads ``GET /api/v1/reports/{receipt}`` at
``track_rate`` a second, for reports of the store and those just submitted.

Before the server starts, the queue's SQL runs straight on the store (sqlite3), for the ratio
of the server to the database and to check the server's pages against it; once the server has
stopped, the store's rows are counted against what was built and accepted.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.engine import make_url

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
from backend.bench.oversight.world import counties
from backend.bench.reports import load
from backend.bench.reports import store as store_module
from backend.bench.reports.store import Store
from backend.core.settings import REPORT_POW_DIFFICULTY, load_settings
from backend.reports.models import ReportStatus

PASSWORD = "bench-password-1"
PROVINCE = "320000"  # 江苏省
COUNTY = "320102"  # 玄武区
DIRECTOR = "bench-director@example.gov.cn"
INSPECTOR = "bench-inspector@example.gov.cn"
TARGET_QUEUE_P95_MS = 200.0
PAGE = 50
PAGE_MAX = 500
TRACKED_SAMPLE = 2_000
QUEUE_FIELDS = (
    "id category description divisionCode handlingDivisionCode status location { lat lon } "
    "address subject observedAt receivedAt acceptDueAt closeDueAt anonymous photos"
)
QUEUE_QUERY = (
    "query($s: HazardReportStatus, $first: Int!, $after: ID) "
    "{ hazardReports(status: $s, first: $first, after: $after) { " + QUEUE_FIELDS + " } }"
)
IDS_QUERY = (
    "query($s: HazardReportStatus, $first: Int!, $after: ID) "
    "{ hazardReports(status: $s, first: $first, after: $after) { id } }"
)
# The queues measured: the latest reports, and those waiting to be accepted.
QUEUES: dict[str, ReportStatus | None] = {"latest": None, "received": ReportStatus.RECEIVED}
# What ``backend.reports.queue.list_reports`` asks the store for a provincial regulator.
RAW_QUEUE = (
    "SELECT * FROM hazard_reports WHERE division_code LIKE ?{status} "
    "ORDER BY received_at DESC, id DESC LIMIT ?"
)


@dataclass
class QueueFigures:
    queue: str
    status: str | None
    first: int
    repeat: int
    rows: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    target_p95_ms: float
    meets_target: bool
    raw_p50_ms: float
    raw_p95_ms: float
    ratio_to_raw: float
    # The server's page is the raw query's page: the same reports in the same order.
    matches_raw: bool


@dataclass
class PhaseFigures:
    phase: str
    photo_bytes: int
    submissions: int
    accepted: int
    refused: dict[str, int]
    first_refusal: str | None
    wall_s: float
    per_s: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    photo_p50_ms: float | None
    photo_p95_ms: float | None
    tracked: int
    tracked_store: int
    tracked_fresh: int
    tracking_errors: int
    first_tracking_error: str | None
    tracking_p50_ms: float
    tracking_p95_ms: float
    tracking_p99_ms: float
    tracking_max_ms: float
    proofs_fetch_s: float
    proofs_solve_s: float
    proof_solve_mean_ms: float


@dataclass
class ReportsFigures:
    scale: float
    reports_built: int
    events_built: int
    built_by_status: dict[str, int]
    build_s: dict[str, float]
    difficulty: int
    clients: int
    submissions_per_address: int
    track_rate: float
    queue: list[QueueFigures]
    # The reports waiting to be accepted, paged through by the director, beside those built.
    queue_received_listed: int
    queue_received_built: int
    phases: list[PhaseFigures]
    # Rows the store holds once the server stopped, and what the plan and the accepted
    # submissions make: reports in the province, per status, photos attached to reports.
    stored: dict[str, int]
    expected: dict[str, int]
    server_rss_mib: float
    server_peak_rss_mib: float
    meets_targets: bool
    consistent: bool
    notes: list[str] = field(default_factory=list)


def _stderr() -> Console:
    return Console(stderr=True)


def _percentile(ms: list[float], p: float) -> float:
    if not ms:
        return float("nan")
    ordered = sorted(ms)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)


def _regulators(scratch: Path) -> None:
    for division, email, role in (
        (PROVINCE, DIRECTOR, "director"),
        (COUNTY, INSPECTOR, "inspector"),
    ):
        anjian_json(
            scratch,
            "regulator",
            "create",
            "--division",
            division,
            "--email",
            email,
            "--password",
            PASSWORD,
            "--role",
            role,
        )


def _build(scratch: Path, planned: Store) -> dict[str, int]:
    settings = load_settings(scratch_env(scratch))
    with Progress(
        TextColumn("[bold]reports"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_stderr(),
        transient=True,
    ) as progress:
        task = progress.add_task("reports", total=len(planned.reports))
        return store_module.insert_reports(settings, planned, lambda n: progress.advance(task, n))


def _variables(status: ReportStatus | None, first: int, after: str | None = None) -> dict:
    return {"s": None if status is None else status.value, "first": first, "after": after}


def _time_queue(
    url: str, token: str, repeat: int
) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    """Each queue ``repeat`` times after one unmeasured call: the milliseconds, and the ids
    of the first answer."""
    timings: dict[str, list[float]] = {}
    pages: dict[str, list[str]] = {}
    for name, status in QUEUES.items():
        answer = graphql(url, QUEUE_QUERY, _variables(status, PAGE), token)
        pages[name] = [r["id"] for r in answer["hazardReports"]]  # type: ignore[index]
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            graphql(url, QUEUE_QUERY, _variables(status, PAGE), token)
            times.append(1000 * (time.perf_counter() - started))
        timings[name] = times
    return timings, pages


def _listed(url: str, token: str, status: ReportStatus) -> int:
    """How many reports of ``status`` the director reads, paged through whole."""
    total, after = 0, None
    while True:
        answer = graphql(url, IDS_QUERY, _variables(status, PAGE_MAX, after), token)
        rows = answer["hazardReports"]  # type: ignore[index]
        total += len(rows)
        if len(rows) < PAGE_MAX:
            return total
        after = rows[-1]["id"]


def _database(scratch: Path) -> str:
    url = load_settings(scratch_env(scratch)).sync_database_url
    if not url.startswith("sqlite"):
        raise BenchmarkFailed("the bench's scratch store is SQLite")
    return str(make_url(url).database)


def _raw_queue(scratch: Path, repeat: int) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    """The queue's SQL straight on the store, ``repeat`` times after one unmeasured run."""
    timings: dict[str, list[float]] = {}
    pages: dict[str, list[str]] = {}
    with sqlite3.connect(_database(scratch)) as db:
        for name, status in QUEUES.items():
            sql = RAW_QUEUE.format(status="" if status is None else " AND status = ?")
            args = (f"{PROVINCE[:2]}%", *(() if status is None else (status.value,)), PAGE)
            columns = None
            times = []
            for run in range(repeat + 1):
                started = time.perf_counter()
                cursor = db.execute(sql, args)
                rows = cursor.fetchall()
                if run:
                    times.append(1000 * (time.perf_counter() - started))
                columns = columns or [c[0] for c in cursor.description]
            at = columns.index("id") if columns else 0
            pages[name] = [str(uuid.UUID(str(row[at]))) for row in rows]
            timings[name] = times
    return timings, pages


def _stored(scratch: Path) -> dict[str, int]:
    with sqlite3.connect(_database(scratch)) as db:
        counted = {
            "reports": db.execute(
                "SELECT count(*) FROM hazard_reports WHERE division_code LIKE ?",
                (f"{PROVINCE[:2]}%",),
            ).fetchone()[0],
            "photos_attached": db.execute(
                "SELECT count(*) FROM hazard_report_photos WHERE report_id IS NOT NULL"
            ).fetchone()[0],
        }
        by_status = dict(db.execute("SELECT status, count(*) FROM hazard_reports GROUP BY status"))
    for status in ReportStatus:
        counted[status.value] = int(by_status.get(status.value, 0))
    return counted


def _phase(
    name: str,
    photo: bytes | None,
    proofs: load.Proofs,
    submitted: load.Submitted,
    tracked: load.Tracked,
) -> PhaseFigures:
    accepted = len(submitted.receipts)
    return PhaseFigures(
        phase=name,
        photo_bytes=len(photo) if photo else 0,
        submissions=len(proofs.proofs),
        accepted=accepted,
        refused=submitted.refused,
        first_refusal=submitted.first_refusal,
        wall_s=round(submitted.wall_s, 2),
        per_s=round(accepted / submitted.wall_s, 1) if submitted.wall_s else 0.0,
        latency_p50_ms=_percentile(submitted.latencies_ms, 0.50),
        latency_p95_ms=_percentile(submitted.latencies_ms, 0.95),
        latency_p99_ms=_percentile(submitted.latencies_ms, 0.99),
        latency_max_ms=round(max(submitted.latencies_ms, default=float("nan")), 1),
        photo_p50_ms=_percentile(submitted.photo_ms, 0.50) if photo else None,
        photo_p95_ms=_percentile(submitted.photo_ms, 0.95) if photo else None,
        tracked=len(tracked.latencies_ms),
        tracked_store=tracked.known,
        tracked_fresh=tracked.fresh,
        tracking_errors=tracked.errors,
        first_tracking_error=tracked.first_error,
        tracking_p50_ms=_percentile(tracked.latencies_ms, 0.50),
        tracking_p95_ms=_percentile(tracked.latencies_ms, 0.95),
        tracking_p99_ms=_percentile(tracked.latencies_ms, 0.99),
        tracking_max_ms=round(max(tracked.latencies_ms, default=float("nan")), 1),
        proofs_fetch_s=proofs.fetch_s,
        proofs_solve_s=proofs.solve_s,
        proof_solve_mean_ms=proofs.solve_mean_ms,
    )


def run(
    scale: float = 1.0,
    reports: int = 2_000,
    photo_reports: int = 200,
    clients: int = 16,
    difficulty: int = 10,
    repeat: int = 50,
    track_rate: float = 20.0,
    data_dir: Path | None = None,
    keep: bool = False,
) -> ReportsFigures:
    low, high = REPORT_POW_DIFFICULTY
    if not low <= difficulty <= high:
        raise ValueError(f"difficulty is {low} to {high} bits")
    if repeat < 1 or clients < 1 or reports < 1 or photo_reports < 1 or track_rate <= 0:
        raise ValueError("repeat, clients, reports and photo reports are at least 1")
    scratch = data_dir or Path(tempfile.mkdtemp(prefix="anjian-bench-reports-"))
    planned = store_module.plan(scale)
    workers = max(1, os.cpu_count() or 1)
    build_s: dict[str, float] = {}
    places = counties()
    rng_sample = planned.reports[:: max(1, len(planned.reports) // TRACKED_SAMPLE)]
    known = [(r.receipt, r.status.value) for r in rng_sample]
    photo = load.bench_photo()
    phases: list[PhaseFigures] = []
    try:
        print(f"building {len(planned.reports):,} reports in {scratch} …", file=sys.stderr)
        started = time.perf_counter()
        anjian_json(scratch, "migrate")
        _regulators(scratch)
        build_s["migrate_and_regulators"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        written = _build(scratch, planned)
        build_s["reports"] = round(time.perf_counter() - started, 1)
        # Before the server runs (and submissions add to the store): the queue the server
        # will list, its SQL straight on the store.
        print("timing the queue's SQL on the store …", file=sys.stderr)
        raw_timings, raw_pages = _raw_queue(scratch, repeat)
        settings = {
            "ANJIAN_REPORT_POW_DIFFICULTY": str(difficulty),
            "ANJIAN_TRUSTED_PROXIES": "127.0.0.1/32",
        }
        with serving(scratch, settings=settings) as (url, server):
            token = login(url, DIRECTOR, PASSWORD)
            print("timing the director's queue …", file=sys.stderr)
            timings, pages = _time_queue(url, token, repeat)
            listed = _listed(url, token, ReportStatus.RECEIVED)
            first = 0
            for name, count, with_photo in (
                ("no photo", reports, None),
                ("one photo", photo_reports, photo),
            ):
                print(f"solving {count:,} proofs for '{name}' …", file=sys.stderr)
                proofs = load.solved_proofs(url, count, workers)
                if proofs.difficulty != difficulty:
                    raise BenchmarkFailed(
                        f"the server asked for {proofs.difficulty} bits, not {difficulty}"
                    )
                print(f"submitting {count:,} reports ({name}) …", file=sys.stderr)
                submitted, tracked = load.submit_phase(
                    url, proofs.proofs, with_photo, clients, first, places, known, track_rate
                )
                phases.append(_phase(name, with_photo, proofs, submitted, tracked))
                first += count
            rss = rss_mib(server.pid)
            peak = peak_rss_mib(server.pid)
        stored = _stored(scratch)
    finally:
        if data_dir is None and not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    queue = []
    for name, status in QUEUES.items():
        ms, raw = timings[name], raw_timings[name]
        p50, p95, raw_p50 = _percentile(ms, 0.5), _percentile(ms, 0.95), _percentile(raw, 0.5)
        queue.append(
            QueueFigures(
                queue=name,
                status=None if status is None else status.value,
                first=PAGE,
                repeat=repeat,
                rows=len(pages[name]),
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=_percentile(ms, 0.99),
                max_ms=round(max(ms), 1),
                target_p95_ms=TARGET_QUEUE_P95_MS,
                meets_target=p95 <= TARGET_QUEUE_P95_MS,
                raw_p50_ms=raw_p50,
                raw_p95_ms=_percentile(raw, 0.95),
                ratio_to_raw=round(p50 / raw_p50, 1) if raw_p50 else float("nan"),
                matches_raw=pages[name] == raw_pages[name],
            )
        )
    by_status = planned.by_status()
    accepted = sum(p.accepted for p in phases)
    expected = {
        "reports": len(planned.reports) + accepted,
        "photos_attached": next(p.accepted for p in phases if p.photo_bytes),
        **by_status,
    }
    expected[ReportStatus.RECEIVED.value] += accepted
    consistent = (
        stored == expected
        and listed == by_status[ReportStatus.RECEIVED.value]
        and all(q.matches_raw and q.rows == min(PAGE, _rows_of(q, by_status)) for q in queue)
        and all(p.accepted == p.submissions and not p.tracking_errors for p in phases)
    )
    return ReportsFigures(
        scale=scale,
        reports_built=written["hazard_reports"],
        events_built=written["hazard_report_events"],
        built_by_status=by_status,
        build_s=build_s,
        difficulty=difficulty,
        clients=clients,
        submissions_per_address=load.PER_ADDRESS,
        track_rate=track_rate,
        queue=queue,
        queue_received_listed=listed,
        queue_received_built=by_status[ReportStatus.RECEIVED.value],
        phases=phases,
        stored=stored,
        expected=expected,
        server_rss_mib=round(rss, 1),
        server_peak_rss_mib=round(peak, 1),
        meets_targets=all(q.meets_target for q in queue),
        consistent=consistent,
        notes=[
            f"the store is SQLite, served by one `anjian serve` process; the clients, the "
            f"tracker and the server share this machine's {workers} CPUs",
            f"proof of work at {difficulty} bits (ANJIAN_REPORT_POW_DIFFICULTY), solved ahead of "
            "time in worker processes; the server verifies every proof alike whatever the "
            "difficulty (one SHA-256 and a MAC)",
            f"reporters come from distinct client addresses, {load.PER_ADDRESS} submissions "
            "each, forwarded by a trusted proxy (ANJIAN_TRUSTED_PROXIES=127.0.0.1/32, "
            "X-Forwarded-For): the per-address rate is counted on every request and refuses none",
            "queue calls are sequential, after one unmeasured call; raw: the same SQL through "
            "sqlite3 on the same store before the server started (the ratio is what the ORM, "
            "decryption, masking and GraphQL add)",
            "the store's reports have no photos (their photo list is still queried)",
        ],
    )


def _rows_of(q: QueueFigures, by_status: dict[str, int]) -> int:
    return sum(by_status.values()) if q.status is None else by_status[q.status]


def as_dict(figures: ReportsFigures) -> dict[str, object]:
    return asdict(figures)


def table(figures: ReportsFigures) -> str:
    """The figures as fixed-width tables: the queue, then the submission phases."""
    lines = [
        f"{'queue (director 320000)':<26}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'target':>8}{'raw p50':>9}{'ratio':>8}",
    ]
    for q in figures.queue:
        lines.append(
            f"{q.queue + ' (' + str(q.rows) + ' rows)':<26}{q.p50_ms:>9.1f}{q.p95_ms:>9.1f}"
            f"{q.p99_ms:>9.1f}{q.max_ms:>9.1f}{('≤' + str(int(q.target_p95_ms))):>8}"
            f"{q.raw_p50_ms:>9.2f}{q.ratio_to_raw:>8.1f}"
            + ("" if q.meets_target else "  MISSED")
            + ("" if q.matches_raw else "  DIFFERS FROM RAW")
        )
    lines.append("")
    lines.append(
        f"{'submissions':<12}{'count':>7}{'ok':>7}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'photo p95':>10}{'track p50':>10}{'track p95':>10}{'track p99':>10}"
    )
    for p in figures.phases:
        photo = "-" if p.photo_p95_ms is None else f"{p.photo_p95_ms:.1f}"
        lines.append(
            f"{p.phase:<12}{p.submissions:>7}{p.accepted:>7}{p.per_s:>8.1f}"
            f"{p.latency_p50_ms:>9.1f}{p.latency_p95_ms:>9.1f}{p.latency_p99_ms:>9.1f}"
            f"{photo:>10}{p.tracking_p50_ms:>10.1f}{p.tracking_p95_ms:>10.1f}"
            f"{p.tracking_p99_ms:>10.1f}"
        )
    return "\n".join(lines)
