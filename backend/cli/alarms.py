"""``anjian alarm-report``: the demo's ISA-18.2 alarm figures (``backend/bench/alarm_report/``),
on a scratch store of its own."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from backend.cli._support import handles_errors, output
from backend.demo.world import SEED
from backend.runtime import Runtime

if TYPE_CHECKING:
    from backend.bench.alarm_report import AlarmReport, Progress
    from backend.demo.world import DemoPlan


def run_alarm_report(
    hours: float = 24.0,
    *,
    seed: int = SEED,
    start: datetime | None = None,
    plan: DemoPlan | None = None,
    progress: Progress | None = None,
) -> AlarmReport:
    """Seed the demo (or ``plan``) into a temporary store and simulate ``hours`` of it from
    ``start`` (by default the report's fixed start)."""
    # Imported here: the simulation pulls in the whole alarm stack, which other commands
    # do not need at start-up.
    from backend.bench.alarm_report import DEFAULT_START, scratch_settings, simulate
    from backend.demo.seed import seed_demo
    from backend.migrate import seed as seed_reference_data
    from backend.migrate import upgrade_relational

    scratch = Path(tempfile.mkdtemp(prefix="anjian-alarm-report-"))
    try:
        settings = scratch_settings(scratch)

        async def main() -> AlarmReport:
            runtime = Runtime(settings)
            try:
                owner_engine = runtime.owner_engine
                await asyncio.to_thread(
                    lambda: upgrade_relational(owner_engine=owner_engine, keyring=runtime.keyring)
                )
                await asyncio.to_thread(lambda: seed_reference_data(owner_engine=owner_engine))
                await seed_demo(
                    sessions=runtime.sessions, authz=runtime.authz, log2_n=runtime.log2_n, plan=plan
                )
                return await simulate(
                    sessions=runtime.sessions,
                    ingest=runtime.ingest,
                    hours=hours,
                    seed=seed,
                    start=start or DEFAULT_START,
                    progress=progress,
                )
            finally:
                await runtime.close()

        return asyncio.run(main())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@click.command("alarm-report")
@click.option(
    "--hours",
    default=24.0,
    show_default=True,
    type=click.FloatRange(min=0.1, max=24 * 7),
    help="Simulated hours of demo operation.",
)
@click.option("--seed", default=SEED, show_default=True, help="Seed of the simulated readings.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handles_errors
def alarm_report(hours: float, seed: int, as_json: bool) -> None:
    """ISA-18.2 alarm figures of the demo world over simulated hours (no server needed).

    Seeds the demo into a temporary store and runs it through the real rule engine and alarm
    lifecycle on a simulated clock; progress on stderr, the per-site table (or, with --json,
    one object) on stdout. Exits 1 when the figures miss the target (≤ 6 alarms per site per
    hour, no chattering, every scripted hazard caught).
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from backend.bench.alarm_report import table
    from backend.demo.simulator import TICK_SECONDS

    total = hours * 3600
    columns = (
        TextColumn("模拟 Simulating {task.fields[done]:.1f}/{task.fields[hours]:g} h"),
        BarColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("simulate", total=total, done=0.0, hours=hours)

        def advance(done_s: float) -> None:
            if done_s % 60 < TICK_SECONDS or done_s >= total:  # once a simulated minute
                bar.update(task, completed=done_s, done=done_s / 3600)

        report = run_alarm_report(hours, seed=seed, progress=advance)
    if as_json:
        output(True, report.as_dict(), "")
    else:
        Console(width=max(Console().width, 160)).print(table(report))
    if not report.meets_target:
        sys.exit(1)
