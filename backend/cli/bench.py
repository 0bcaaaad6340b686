"""``anjian bench``: benchmarks against a real server process (``backend/bench/``)."""

from __future__ import annotations

import json

import click


@click.group()
def bench() -> None:
    """Benchmarks against a real server process (figures as JSON on stdout)."""


@bench.command("ingest")
@click.option("--devices", default=20, show_default=True, help="Concurrent device clients.")
@click.option("--duration", default=60.0, show_default=True, help="Seconds of load.")
@click.option("--batch", "batch_size", default=500, show_default=True, help="Readings a batch.")
@click.option(
    "--sensors", "sensors_per_device", default=50, show_default=True, help="Sensors per device."
)
@click.option("--keep", is_flag=True, help="Keep the scratch data dir.")
def bench_ingest(
    devices: int, duration: float, batch_size: int, sensors_per_device: int, keep: bool
) -> None:
    """Readings/s over HTTP end to end versus a direct ClickHouse insert."""
    from backend.bench.ingest import as_dict, run

    figures = run(devices, duration, batch_size, sensors_per_device, keep=keep)
    click.echo(json.dumps(as_dict(figures), ensure_ascii=False))
    click.echo(
        f"accepted {figures.accepted_per_s:,.0f} readings/s, landed {figures.landed_per_s:,.0f}/s "
        f"({figures.readings_landed:,} of {figures.readings_accepted:,}); p50 "
        f"{figures.latency_p50_ms} ms, p99 {figures.latency_p99_ms} ms; server peak RSS "
        f"{figures.server_peak_rss_mib} MiB; raw insert "
        f"{figures.raw_insert_rows_per_s:,.0f} rows/s; ratio {figures.ratio_to_raw}",
        err=True,
    )


@bench.command("alarms")
@click.option("--devices", default=10, show_default=True, help="Background device clients.")
@click.option("--rate", default=50_000.0, show_default=True, help="Background readings/s.")
@click.option("--leaks", default=40, show_default=True, help="Gas sensors that leak.")
@click.option("--duration", default=30.0, show_default=True, help="Seconds of load.")
def bench_alarms(devices: int, rate: float, leaks: int, duration: float) -> None:
    """Reading accepted → alarm event on a subscription, under background load."""
    from backend.bench.alarms import as_dict, run

    figures = run(devices, rate, leaks, duration)
    click.echo(json.dumps(as_dict(figures), ensure_ascii=False))
    click.echo(
        f"{figures.raised} alarms raised for {figures.leaks} leaks ({figures.missed} missed, "
        f"{figures.duplicated} duplicated) at {figures.background_readings_per_s:,.0f} "
        f"background readings/s; reading → event p50 {figures.latency_p50_ms} ms, "
        f"p99 {figures.latency_p99_ms} ms",
        err=True,
    )


@bench.command("oversight")
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="Fraction of the province-sized world (2,000 enterprises, 5,000 sites, 100,000 "
    "sensors) to build.",
)
@click.option(
    "--repeat",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Measured calls of each query per level.",
)
@click.option("--keep", is_flag=True, help="Keep the scratch data dir.")
@click.option(
    "--feed",
    is_flag=True,
    help="The world's devices keep reporting over the device API while the queries run.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a table.")
def bench_oversight(scale: float, repeat: int, keep: bool, feed: bool, as_json: bool) -> None:
    """Government portal queries of a province, a city and a county regulator (p50/p95/p99)."""
    from backend.bench.oversight import as_dict, run, table

    figures = run(scale=scale, repeat=repeat, keep=keep, feed=feed)
    if as_json:
        click.echo(json.dumps(as_dict(figures), ensure_ascii=False))
    else:
        click.echo(table(figures))
    mismatched = [
        f"{level} {key} {figures.reported[level][key]:,} (built {value:,})"
        for level, built in figures.built.items()
        for key, value in built.items()
        if figures.reported[level][key] != value
    ]
    click.echo(
        f"{figures.enterprises:,} enterprises, {figures.sites:,} sites, {figures.sensors:,} "
        f"sensors, {figures.raw_readings:,} raw readings, {figures.history_rows:,} hourly rows; "
        f"build {sum(figures.build_s.values()):,.0f} s; server RSS {figures.server_rss_mib} MiB "
        f"(peak {figures.server_peak_rss_mib}); targets "
        f"{'met' if figures.meets_targets else 'MISSED'}"
        + (f"; counts differ from those built: {', '.join(mismatched)}" if mismatched else ""),
        err=True,
    )
    fed = figures.feed
    if fed is None:
        return
    click.echo(
        f"while timing, {fed.devices:,} devices posted {fed.batches:,} batches "
        f"({fed.readings:,} readings accepted, {fed.refused:,} refused) once every "
        f"{fed.period_s:.0f} s, at worst {fed.worst_lag_s} s late"
        + (f"; first refusal: {fed.first_refusal}" if fed.first_refusal else ""),
        err=True,
    )


@bench.command("reports")
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="Fraction of the province's year of reports (100,000) built in the store.",
)
@click.option(
    "--reports",
    default=2_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Submissions without a photo.",
)
@click.option(
    "--photo-reports",
    default=200,
    show_default=True,
    type=click.IntRange(min=1),
    help="Submissions with one ~1 MB JPEG each.",
)
@click.option(
    "--clients",
    default=16,
    show_default=True,
    type=click.IntRange(min=1),
    help="Concurrent reporters.",
)
@click.option(
    "--difficulty",
    default=10,
    show_default=True,
    type=click.IntRange(1, 22),
    help="Proof-of-work bits the server asks for (ANJIAN_REPORT_POW_DIFFICULTY).",
)
@click.option(
    "--repeat",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="Measured calls of each queue query.",
)
@click.option(
    "--track-rate",
    default=20.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Tracking-page reads a second while submissions run.",
)
@click.option("--keep", is_flag=True, help="Keep the scratch data dir.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a table.")
def bench_reports(
    scale: float,
    reports: int,
    photo_reports: int,
    clients: int,
    difficulty: int,
    repeat: int,
    track_rate: float,
    keep: bool,
    as_json: bool,
) -> None:
    """Public hazard reports: submissions/s with and without a photo, tracking p95 under that
    load, and a provincial regulator's queue on a year of reports (p50/p95/p99)."""
    from backend.bench.reports import as_dict, run, table

    figures = run(
        scale=scale,
        reports=reports,
        photo_reports=photo_reports,
        clients=clients,
        difficulty=difficulty,
        repeat=repeat,
        track_rate=track_rate,
        keep=keep,
    )
    if as_json:
        click.echo(json.dumps(as_dict(figures), ensure_ascii=False))
    else:
        click.echo(table(figures))
    refused = {f"{p.phase}: {k}": v for p in figures.phases for k, v in p.refused.items()}
    tracking_errors = sum(p.tracking_errors for p in figures.phases)
    click.echo(
        f"{figures.reports_built:,} reports in the store ({figures.events_built:,} timeline "
        f"entries), built in {figures.build_s['reports']:,.0f} s; proof of work at "
        f"{figures.difficulty} bits; {figures.clients} reporters, "
        f"{figures.submissions_per_address} submissions per client address; server RSS "
        f"{figures.server_rss_mib} MiB (peak {figures.server_peak_rss_mib}); queue target "
        f"{'met' if figures.meets_targets else 'MISSED'}; counts "
        f"{'match' if figures.consistent else 'DIFFER'}"
        + (f"; refused {refused}" if refused else "")
        + (f"; {tracking_errors} tracking errors" if tracking_errors else ""),
        err=True,
    )
    if not figures.consistent:
        click.echo(
            f"stored {figures.stored}, expected {figures.expected}; waiting reports listed "
            f"{figures.queue_received_listed} of {figures.queue_received_built}",
            err=True,
        )
