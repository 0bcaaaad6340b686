"""``anjian alarm-report``: the demo's ISA-18.2 alarm figures (backend/bench/alarm_report.py)."""

from __future__ import annotations

import sys

import click

from backend._demo_data import SEED
from backend.cli_support import handles_errors, output


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
    # Imported here: the simulation pulls in the whole alarm stack, which other commands
    # do not need at start-up.
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from backend.bench.alarm_report import run, table
    from backend.telemetry.simulator import TICK_SECONDS

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

        report = run(hours, seed=seed, progress=advance)
    if as_json:
        output(True, report.as_dict(), "")
    else:
        Console(width=max(Console().width, 160)).print(table(report))
    if not report.meets_target:
        sys.exit(1)
