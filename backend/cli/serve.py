"""``anjian migrate``, ``serve``, ``demo``, ``worker`` and ``dev-cert``: the store's schema and
the processes that serve it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from backend.cli._support import handles_errors, migrate_store, output, run
from backend.core.errors import BadInput
from backend.core.settings import Settings
from backend.migrate import require_migrated
from backend.runtime import Runtime
from privacy.tls import ServerTls

T = TypeVar("T")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def migrate(settings: Settings, as_json: bool) -> None:
    """Bring the relational and ClickHouse schemas to head and seed plans and roles."""
    report = migrate_store(settings)
    payload = {
        "relational": {"from": report.relational_before, "to": report.relational_after},
        "clickhouse_applied": report.clickhouse_applied,
        "seeded": report.seeded,
        "changed": report.changed,
    }
    text = (
        f"relational schema: {report.relational_before or 'empty'} → {report.relational_after}\n"
        f"ClickHouse migrations applied: {', '.join(report.clickhouse_applied) or 'none'}\n"
        f"seed changes: {report.seeded}"
        if report.changed
        else "already at head; nothing to do"
    )
    output(as_json, payload, text)


def _tls_options(fn: Callable[..., T]) -> Callable[..., T]:
    fn = click.option(
        "--tls-key",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="PEM private key of --tls-cert (unencrypted).",
    )(fn)
    return click.option(
        "--tls-cert",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="PEM certificate (chain after the leaf): serve HTTPS only.",
    )(fn)


def _checked_tls(tls_cert: Path | None, tls_key: Path | None) -> ServerTls | None:
    from privacy.tls import load_server_tls

    tls = load_server_tls(tls_cert, tls_key)
    for warning in () if tls is None else tls.warnings:
        click.echo(f"anjian: warning: {warning}", err=True)
    return tls


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@_tls_options
@click.pass_obj
@handles_errors
def serve(
    settings: Settings, host: str, port: int, tls_cert: Path | None, tls_key: Path | None
) -> None:
    """Serve the API and portals (and, in embedded mode, the job workers)."""
    from backend.server import serve as run_server

    tls = _checked_tls(tls_cert, tls_key)
    run_server(settings, host=host, port=port, tls=tls)


@click.command()
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--no-simulate", is_flag=True, help="Do not start the sensor simulator.")
@_tls_options
@click.pass_obj
@handles_errors
def demo(
    settings: Settings,
    port: int,
    host: str,
    no_simulate: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    """Migrate, seed the demo data (idempotent), print the logins and serve."""
    from backend.demo.seed import print_logins, seed_demo
    from backend.server import serve as run_server

    tls = _checked_tls(tls_cert, tls_key)
    migrate_store(settings)
    summary = run(
        settings,
        lambda rt: seed_demo(sessions=rt.sessions, authz=rt.authz, log2_n=rt.log2_n),
    )
    print_logins(summary)
    run_server(settings, host=host, port=port, simulate=not no_simulate, tls=tls)


@click.command("dev-cert")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="Another DNS name or IP address (repeatable); localhost and 127.0.0.1 are always in.",
)
@click.option("--days", default=825, show_default=True, type=click.IntRange(1, 825))
@click.option("--force", is_flag=True, help="Replace an existing pair.")
@click.option("--json", "as_json", is_flag=True)
@handles_errors
def dev_cert(out_dir: Path, hosts: tuple[str, ...], days: int, force: bool, as_json: bool) -> None:
    """Generate a self-signed certificate and key for development (HTTPS, MQTT over TLS)."""
    from privacy.tls import generate_dev_certificate

    made = generate_dev_certificate(out_dir, hosts, days=days, overwrite=force)
    payload = {
        "certificate": str(made.certificate),
        "key": str(made.key),
        "names": list(made.names),
        "not_after": made.not_after.isoformat(),
        "sha256": made.sha256,
    }
    output(
        as_json,
        payload,
        f"certificate: {made.certificate}\nkey (0600):  {made.key}\n"
        f"names: {', '.join(made.names)}\nvalid until {made.not_after:%Y-%m-%d}; "
        f"SHA-256 {made.sha256}\n"
        f"serve: anjian serve --tls-cert {made.certificate} --tls-key {made.key}\n"
        "clients trust this file itself; it is for development only",
    )


@click.command("worker")
@click.option("--threads", default=4, show_default=True, type=int)
@click.pass_obj
@handles_errors
def worker(settings: Settings, threads: int) -> None:
    """Run Dramatiq workers against the configured Redis or RabbitMQ broker."""
    import signal
    import threading

    from backend.jobs.broker import start_worker

    if settings.embedded_broker:
        raise BadInput("ANJIAN_BROKER_URL is unset: in embedded mode the server runs the workers")
    require_migrated(settings)
    runtime = Runtime(settings)
    running = start_worker(runtime.jobs.broker, threads=threads)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    click.echo(f"workers running on {settings.broker_url}", err=True)
    stop.wait()
    running.stop()
