"""``anjian device``: register, list and revoke devices and their sensors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from backend.auth.principal import Principal
from backend.cli._support import handles_errors, output, parse_uuid, run, table
from backend.core.errors import BadInput
from backend.core.settings import Settings
from backend.runtime import Runtime
from tenants.scope import Scope


@click.group()
def device() -> None:
    """Devices and their sensors."""


def _read_sensors_file(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path} is not valid JSON: {exc}") from None


@device.command("create")
@click.option("--site", "site_id", required=True)
@click.option("--name", required=True)
@click.option(
    "--sensors", "sensors_file", required=True, type=click.Path(path_type=Path, dir_okay=False)
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def device_create(
    settings: Settings, site_id: str, name: str, sensors_file: Path, as_json: bool
) -> None:
    """Register a device; prints its token once."""
    from backend.telemetry.kinds import parse_sensors
    from backend.telemetry.service import create_device
    from tenants.scope import scoped_session
    from tenants.service import unscoped_site_tenant

    sid = parse_uuid(site_id, "--site")
    specs = parse_sensors(_read_sensors_file(sensors_file))

    async def work(rt: Runtime) -> dict[str, Any]:
        tenant_id = await unscoped_site_tenant(sessions=rt.sessions, site_id=sid)
        scope = Scope.for_tenant(tenant_id)
        async with scoped_session(rt.sessions, scope) as session, session.begin():
            created = await create_device(
                session=session,
                authz=rt.authz,
                principal=Principal.system(scope),
                site_id=sid,
                name=name,
                sensors=specs,
                mqtt=rt.mqtt_directory,
            )
        return {
            "device_id": str(created.device.id),
            "token": created.token,
            "sensors": {code: str(i) for code, i in created.sensors.items()},
        }

    payload = run(settings, work)
    output(
        as_json,
        payload,
        f"device {name}: {payload['device_id']}\n"
        f"token (shown once): {payload['token']}\nsensors: {len(payload['sensors'])}",
    )


@device.command("list")
@click.option("--site", "site_id", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def device_list(settings: Settings, site_id: str, as_json: bool) -> None:
    """A site's devices, by name, with their sensor codes (revoked devices marked)."""
    from backend.telemetry.service import unscoped_device_list

    sid = parse_uuid(site_id, "--site")
    rows = run(settings, lambda rt: unscoped_device_list(sessions=rt.sessions, site_id=sid))
    payload = {
        "devices": [
            {
                "device_id": str(d.id),
                "name": d.name,
                "revoked": d.revoked,
                "sensors": {s.code: str(s.id) for s in sensors},
            }
            for d, sensors in rows
        ]
    }
    table(
        as_json,
        payload,
        "devices",
        [("device_id", "ID"), ("name", "名称 Name"), ("revoked", "Revoked"),
         ("sensors", "Sensors")],
    )  # fmt: skip


@device.command("revoke")
@click.option("--device", "device_id", required=True)
@click.pass_obj
@handles_errors
def device_revoke(settings: Settings, device_id: str) -> None:
    """Revoke a device's token."""
    from backend.telemetry.service import (
        remove_from_broker,
        revoke_device,
        unscoped_device_tenant,
    )
    from tenants.scope import scoped_session

    did = parse_uuid(device_id, "--device")

    async def work(rt: Runtime) -> None:
        scope = Scope.for_tenant(await unscoped_device_tenant(sessions=rt.sessions, device_id=did))
        async with scoped_session(rt.sessions, scope) as session, session.begin():
            await revoke_device(
                session=session, authz=rt.authz, principal=Principal.system(scope), device_id=did
            )
        await remove_from_broker(mqtt=rt.mqtt_directory, device_id=did)

    run(settings, work)
    click.echo(f"device {did}: revoked")
