"""``anjian mqtt``: the MQTT consumer, the broker's device accounts and its configuration."""

from __future__ import annotations

from pathlib import Path

import click

from backend.cli._support import fail, handles_errors, output, run
from backend.core.errors import AnjianError, BadInput, StoreUnavailable
from backend.core.settings import Settings
from backend.runtime import Runtime


@click.group("mqtt", invoke_without_command=True)
@click.pass_context
def mqtt_group(ctx: click.Context) -> None:
    """MQTT ingest: with no subcommand, run the consumer (beside a ClickHouse server)."""
    if ctx.invoked_subcommand is not None:
        return
    settings: Settings = ctx.obj
    from backend.api.errors import http_status_for
    from backend.jobs.mqtt_consumer import run_mqtt_consumer

    if settings.embedded_clickhouse:
        fail(
            "in embedded mode the server runs the MQTT consumer itself (set ANJIAN_MQTT_URL "
            "for `anjian serve`); `anjian mqtt` is for deployments with a ClickHouse server",
            2,
        )

    async def work(rt: Runtime) -> None:
        await run_mqtt_consumer(
            rt, refusal_status=http_status_for, admin_url=settings.mqtt_admin_url
        )

    try:
        run(settings, work)
    except (BadInput, StoreUnavailable) as exc:
        fail(exc.message, 2)
    except AnjianError as exc:
        fail(exc.message, 1)


@mqtt_group.command("sync")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def mqtt_sync(settings: Settings, as_json: bool) -> None:
    """Remove revoked or unknown devices from the broker; list devices it lacks."""
    from backend.telemetry.mqtt import MqttDirectory, sync_from_registry

    if not settings.mqtt_admin_url:
        raise BadInput("ANJIAN_MQTT_ADMIN_URL is not set (mqtt://admin:password@host:port)")

    async def work(rt: Runtime) -> dict[str, list[str]]:
        directory = MqttDirectory(settings.mqtt_admin_url or "")
        try:
            report = await sync_from_registry(directory, rt)
        finally:
            directory.close()
        return {
            "removed": [str(d) for d in report.removed],
            "missing": [str(d) for d in report.missing],
        }

    payload = run(settings, work)
    output(
        as_json,
        payload,
        f"removed {len(payload['removed'])} device(s) from the broker; "
        f"{len(payload['missing'])} registered device(s) lack a broker account",
    )


@mqtt_group.command("init-broker")
@click.option("--dir", "directory", required=True, type=click.Path(path_type=Path))
@click.option("--port", default=1883, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--tls-cert", type=click.Path(path_type=Path, exists=True), default=None)
@click.option("--tls-key", type=click.Path(path_type=Path, exists=True), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def mqtt_init_broker(
    settings: Settings,
    directory: Path,
    port: int,
    host: str,
    tls_cert: Path | None,
    tls_key: Path | None,
    as_json: bool,
) -> None:
    """Write a Mosquitto config with the dynamic-security plugin and Anjian's accounts."""
    from backend.telemetry.mqtt import prepare_broker_dir

    if (tls_cert is None) != (tls_key is None):
        raise BadInput("--tls-cert and --tls-key go together")
    files = prepare_broker_dir(
        directory.resolve(), port, host=host, tls_cert=tls_cert, tls_key=tls_key
    )
    payload = {
        "config": str(files.config),
        "ANJIAN_MQTT_URL": files.consumer_url,
        "ANJIAN_MQTT_ADMIN_URL": files.admin_url,
    }
    output(
        as_json,
        payload,
        f"run: mosquitto -c {files.config}\n"
        f"then set ANJIAN_MQTT_URL={files.consumer_url}\n"
        f"and ANJIAN_MQTT_ADMIN_URL={files.admin_url}",
    )
