"""The ``anjian`` command line.

``--json`` prints exactly one JSON object on stdout; progress and logs go to stderr; errors go
to stderr with a non-zero exit (2 for bad input and for a store that is unreachable, not
migrated or busy, 1 for anything else).
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click

from backend.auth.principal import Principal
from backend.cli_support import fail, handles_errors, output, parse_uuid, run, table
from backend.core.errors import AnjianError, BadInput, StoreUnavailable
from backend.core.settings import Settings, load_settings
from backend.migrate import require_migrated
from backend.runtime import Runtime
from privacy.audit import Actor
from privacy.tls import ServerTls
from tenants.scope import Scope

T = TypeVar("T")


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """安监 Anjian: safety-production monitoring. Settings come from ANJIAN_* variables."""
    try:
        ctx.obj = load_settings()
    except AnjianError as exc:
        fail(exc.message, 2)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def migrate(settings: Settings, as_json: bool) -> None:
    """Bring the relational and ClickHouse schemas to head and seed plans and roles."""
    from backend.migrate import migrate as run_migrate

    report = run_migrate(settings)
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


@main.command()
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


@main.command()
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
    from backend.demo import print_logins, seed_demo
    from backend.migrate import migrate as run_migrate
    from backend.server import serve as run_server

    tls = _checked_tls(tls_cert, tls_key)
    run_migrate(settings)
    summary = run(settings, seed_demo)
    print_logins(summary)
    run_server(settings, host=host, port=port, simulate=not no_simulate, tls=tls)


@main.command("dev-cert")
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


@main.group()
def admin() -> None:
    """Platform administrators."""


@admin.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def admin_create(settings: Settings, email: str, password: str, as_json: bool) -> None:
    """Create a platform administrator (tenants and billing only; no tenant data)."""
    from backend.auth import service as auth_service

    async def work(rt: Runtime) -> uuid.UUID:
        actor = Principal.system().actor()
        async with rt.sessions() as session, session.begin():
            user = await auth_service.create_user(
                session, email=email, password=password, actor=actor, log2_n=rt.log2_n
            )
            await auth_service.grant_membership(
                session, user=user, domain="platform", role="platform_admin", actor=actor
            )
        return user.id

    user_id = run(settings, work)
    output(as_json, {"user_id": str(user_id)}, f"platform administrator {email}: {user_id}")


@main.group()
def tenant() -> None:
    """Tenants (enterprises)."""


@tenant.command("create")
@click.option("--name", required=True)
@click.option("--division", required=True, help="GB/T 2260 six-digit code.")
@click.option(
    "--industry", required=True, type=click.Choice(["chemical", "mining", "construction"])
)
@click.option("--owner-email", required=True)
@click.option("--owner-password", required=True)
@click.option("--credit-code", default=None, help="Unified social credit code (optional).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def tenant_create(
    settings: Settings,
    name: str,
    division: str,
    industry: str,
    owner_email: str,
    owner_password: str,
    credit_code: str | None,
    as_json: bool,
) -> None:
    """Provision a tenant and its owner account."""
    from tenants.service import provision_tenant

    async def work(rt: Runtime) -> uuid.UUID:
        created = await provision_tenant(
            rt.sessions,
            rt.authz,
            Principal.system(),
            name=name,
            division_code=division,
            industry=industry,
            owner_email=owner_email,
            owner_password=owner_password,
            credit_code=credit_code,
            log2_n=rt.log2_n,
        )
        return created.id

    tenant_id = run(settings, work)
    output(as_json, {"tenant_id": str(tenant_id)}, f"tenant {name}: {tenant_id}")


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def tenant_list(settings: Settings, as_json: bool) -> None:
    """Every tenant, by name, with its number of sites (the complete list)."""
    from tenants.service import unscoped_tenant_list

    rows = run(settings, lambda rt: unscoped_tenant_list(rt.sessions))
    payload = {
        "tenants": [
            {
                "tenant_id": str(r.tenant.id),
                "name": r.tenant.name,
                "industry": r.tenant.industry.value,
                "division": r.tenant.division_code,
                "status": r.tenant.status.value,
                "sites": r.sites,
            }
            for r in rows
        ]
    }
    table(
        as_json,
        payload,
        "tenants",
        [("tenant_id", "ID"), ("name", "名称 Name"), ("industry", "Industry"),
         ("division", "Division"), ("status", "Status"), ("sites", "Sites")],
    )  # fmt: skip


@tenant.command("offboard")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--reason", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def tenant_offboard(settings: Settings, tenant_id: str, reason: str, as_json: bool) -> None:
    """Stop a tenant's sites now; its data is erased once the retention floors have passed."""
    from privacy.retention import MAJOR_HAZARD_MONITORING_FLOOR
    from tenants.service import offboard_tenant

    tid = parse_uuid(tenant_id, "--tenant")

    async def work(rt: Runtime) -> None:
        await offboard_tenant(
            rt.sessions, rt.authz, Principal.system(), tenant_id=tid, reason=reason
        )

    run(settings, work)
    output(
        as_json,
        {"tenant_id": str(tid), "status": "offboarding"},
        f"tenant {tid}: offboarding; erased by the retention job once its major hazard sites' "
        f"records are {MAJOR_HAZARD_MONITORING_FLOOR.days} days old (at once if it has none)",
    )


@main.command("retention")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def retention_run(settings: Settings, as_json: bool) -> None:
    """Purge expired data, erase offboarded tenants past their floors, sign an audit
    checkpoint (the server runs this daily; beside a ClickHouse server, run it from cron)."""
    from backend.jobs.retention import run_retention

    report = run(settings, run_retention)
    payload = {
        "purged": report.purged,
        "erased_tenants": report.erased_tenants,
        "clickhouse_rows_erased": report.clickhouse_rows_erased,
        "checkpoint_seq": report.checkpoint_seq,
    }
    purged = ", ".join(f"{k}: {v}" for k, v in report.purged.items())
    output(
        as_json,
        payload,
        f"purged {purged}; erased {len(report.erased_tenants)} tenant(s); "
        f"audit checkpoint at entry {report.checkpoint_seq}",
    )


@main.group()
def site() -> None:
    """Sites (plants, mines, construction sites) and their subscriptions."""


@site.command("create")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--name", required=True)
@click.option("--division", required=True, help="GB/T 2260 six-digit code.")
@click.option(
    "--plan",
    default="standard",
    show_default=True,
    type=click.Choice(["basic", "standard", "enterprise"]),
)
@click.option("--major-hazard-grade", type=click.IntRange(1, 4), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def site_create(
    settings: Settings,
    tenant_id: str,
    name: str,
    division: str,
    plan: str,
    major_hazard_grade: int | None,
    as_json: bool,
) -> None:
    """Create a site with a subscription to a plan."""
    from tenants.service import create_site

    tid = parse_uuid(tenant_id, "--tenant")

    async def work(rt: Runtime) -> uuid.UUID:
        created = await create_site(
            rt.sessions,
            rt.authz,
            Principal.system(Scope.for_tenant(tid)),
            tenant_id=tid,
            name=name,
            division_code=division,
            plan=plan,
            major_hazard_grade=major_hazard_grade,
        )
        return created.id

    site_id = run(settings, work)
    output(as_json, {"site_id": str(site_id)}, f"site {name}: {site_id}")


@site.command("list")
@click.option("--tenant", "tenant_id", default=None, help="Only this tenant's sites.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def site_list(settings: Settings, tenant_id: str | None, as_json: bool) -> None:
    """Every site (of one tenant with --tenant), by name, with plan, status and counts."""
    from tenants.service import unscoped_site_list

    tid = None if tenant_id is None else parse_uuid(tenant_id, "--tenant")
    rows = run(settings, lambda rt: unscoped_site_list(rt.sessions, tid))
    payload = {
        "sites": [
            {
                "site_id": str(r.site.id),
                "tenant_id": str(r.site.tenant_id),
                "name": r.site.name,
                "division": r.site.division_code,
                "plan": r.plan_code,
                "status": None if r.subscription is None else r.subscription.value,
                "devices": r.devices,
                "sensors": r.sensors,
            }
            for r in rows
        ]
    }
    table(
        as_json,
        payload,
        "sites",
        [("site_id", "ID"), ("tenant_id", "Tenant"), ("name", "名称 Name"),
         ("division", "Division"), ("plan", "Plan"), ("status", "Status"),
         ("devices", "Devices"), ("sensors", "Sensors")],
    )  # fmt: skip


def _set_site_status(settings: Settings, site_id: str, status_name: str) -> None:
    from tenants.models import SubscriptionStatus
    from tenants.service import set_subscription_status

    sid = parse_uuid(site_id, "--site")

    async def work(rt: Runtime) -> None:
        await set_subscription_status(
            rt.sessions,
            rt.authz,
            Principal.system(),
            site_id=sid,
            status=SubscriptionStatus(status_name),
        )

    run(settings, work)
    click.echo(f"site {sid}: subscription {status_name}")


@site.command("suspend")
@click.option("--site", "site_id", required=True)
@click.pass_obj
@handles_errors
def site_suspend(settings: Settings, site_id: str) -> None:
    """Suspend a site: its devices are refused until it is resumed."""
    _set_site_status(settings, site_id, "suspended")


@site.command("resume")
@click.option("--site", "site_id", required=True)
@click.pass_obj
@handles_errors
def site_resume(settings: Settings, site_id: str) -> None:
    """Resume a suspended site."""
    _set_site_status(settings, site_id, "active")


@main.group()
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
        tenant_id = await unscoped_site_tenant(rt.sessions, sid)
        scope = Scope.for_tenant(tenant_id)
        async with scoped_session(rt.sessions, scope) as session, session.begin():
            created = await create_device(
                session,
                rt.authz,
                Principal.system(scope),
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
    rows = run(settings, lambda rt: unscoped_device_list(rt.sessions, sid))
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
        scope = Scope.for_tenant(await unscoped_device_tenant(rt.sessions, did))
        async with scoped_session(rt.sessions, scope) as session, session.begin():
            await revoke_device(session, rt.authz, Principal.system(scope), device_id=did)
        await remove_from_broker(rt.mqtt_directory, did)

    run(settings, work)
    click.echo(f"device {did}: revoked")


@main.group()
def regulator() -> None:
    """Government regulators."""


@regulator.command("create")
@click.option("--division", required=True, help="GB/T 2260 code of the jurisdiction.")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(["director", "inspector", "analyst"]))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def regulator_create(
    settings: Settings, division: str, email: str, password: str, role: str, as_json: bool
) -> None:
    """Create a regulator account over a division."""
    from backend.oversight.service import create_regulator

    async def work(rt: Runtime) -> uuid.UUID:
        user = await create_regulator(
            rt.sessions,
            rt.authz,
            Principal.system(),
            division_code=division,
            email=email,
            password=password,
            role=role,
            log2_n=rt.log2_n,
        )
        return user.id

    user_id = run(settings, work)
    output(as_json, {"user_id": str(user_id)}, f"regulator {email} ({role}, {division}): {user_id}")


@main.group()
def audit() -> None:
    """The audit trail: verify, checkpoint, purge, export."""


def _cli_actor() -> Actor:
    import getpass

    try:
        who = getpass.getuser()
    except OSError:  # no login name (a container without a passwd entry)
        who = f"uid {os.getuid()}"
    return Actor("system", f"cli:{who}"[:64])


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def audit_verify(settings: Settings, as_json: bool) -> None:
    """Check the hash chain and the signed checkpoints; name the first broken entry."""
    from privacy.audit import verify_chain

    async def work(rt: Runtime) -> Any:
        async with rt.sessions() as session:
            return await verify_chain(session, rt.keyring)

    report = run(settings, work)
    payload = {
        "ok": report.ok,
        "entries": report.entries,
        "first_broken_seq": report.first_broken_seq,
        "reason": report.reason,
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
        "anchor_seq": report.anchor_seq,
        "checkpoints": report.checkpoints,
    }
    start = (
        "from the genesis"
        if report.anchor_seq is None
        else f"from the signed checkpoint at entry {report.anchor_seq}"
    )
    output(
        as_json,
        payload,
        f"audit chain intact: {report.entries} entries {start}, "
        f"{report.checkpoints} signed checkpoint(s) verified"
        if report.ok
        else f"audit chain BROKEN at entry {report.first_broken_seq}: {report.reason}",
    )
    if not report.ok:
        sys.exit(1)


@audit.command("checkpoint")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def audit_checkpoint(settings: Settings, as_json: bool) -> None:
    """Sign the chain's latest entry (Ed25519, key from the master keyring)."""
    from privacy.audit import create_checkpoint

    async def work(rt: Runtime) -> Any:
        async with rt.sessions() as session, session.begin():
            return await create_checkpoint(session, rt.keyring)

    result = run(settings, work)
    view = result.checkpoint
    payload = {**asdict(view), "created": result.created}
    output(
        as_json,
        payload,
        f"{'signed' if result.created else 'already signed'}: entry {view.seq} "
        f"(key version {view.key_version}, {view.at})\nhash      {view.hash}\n"
        f"signature {view.signature}\n"
        "keep a copy outside the database: it proves the trail up to this entry",
    )


@audit.command("purge")
@click.option("--before", required=True, help="Date (YYYY-MM-DD, China time) or ISO 8601 time.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def audit_purge(settings: Settings, before: str, as_json: bool) -> None:
    """Delete entries recorded before a date, at least 6 months old and behind a checkpoint.

    Runs as ANJIAN_DATABASE_URL's own user (the schema owner): on PostgreSQL the
    application role may not delete audit entries.
    """
    from privacy.audit import check_purge_cutoff, parse_instant, purge_before

    cutoff = parse_instant(before, option="--before")
    check_purge_cutoff(cutoff)

    async def work(rt: Runtime) -> Any:
        return purge_before(rt.owner_engine, rt.keyring, cutoff, actor=_cli_actor())

    report = run(settings, work)
    payload = {
        "before": report.before.isoformat(),
        "deleted": report.deleted,
        "through_seq": report.through_seq,
        "checkpoint_seq": report.checkpoint_seq,
        "checkpoint_created": report.checkpoint_created,
    }
    output(
        as_json,
        payload,
        f"deleted {report.deleted} entries through entry {report.through_seq}; the trail now "
        f"starts from the signed checkpoint at entry {report.checkpoint_seq}"
        if report.deleted
        else f"no entries recorded before {report.before.isoformat()}; nothing deleted",
    )


@audit.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(["csv", "json"]))
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--from", "start", default=None, help="From this date or time (inclusive).")
@click.option("--to", "end", default=None, help="Up to this date (inclusive) or time.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def audit_export(
    settings: Settings, fmt: str, out: Path, start: str | None, end: str | None, as_json: bool
) -> None:
    """Write entries for an inspection: CSV (UTF-8 with BOM, header row) or JSON with the
    checkpoints and public keys; hashes in hex, times in UTC. The file is created 0600."""
    from privacy.audit import check_export_window, export_entries, parse_instant

    since = None if start is None else parse_instant(start, option="--from")
    until = None if end is None else parse_instant(end, option="--to", end_of_day=True)
    check_export_window(since, until)

    async def work(rt: Runtime) -> Any:
        async with rt.sessions() as session, session.begin():
            return await export_entries(
                session,
                out,
                "csv" if fmt == "csv" else "json",
                keyring=rt.keyring,
                actor=_cli_actor(),
                start=since,
                end=until,
            )

    report = run(settings, work)
    payload = {
        "path": str(report.path),
        "format": report.format,
        "entries": report.entries,
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
    }
    output(as_json, payload, f"{report.entries} entries written to {report.path}")


@main.command("worker")
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


@main.group()
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


@main.group("mqtt", invoke_without_command=True)
@click.pass_context
def mqtt_group(ctx: click.Context) -> None:
    """MQTT ingest: with no subcommand, run the consumer (beside a ClickHouse server)."""
    if ctx.invoked_subcommand is not None:
        return
    settings: Settings = ctx.obj
    from backend.telemetry.mqtt import run_mqtt_consumer

    if settings.embedded_clickhouse:
        fail(
            "in embedded mode the server runs the MQTT consumer itself (set ANJIAN_MQTT_URL "
            "for `anjian serve`); `anjian mqtt` is for deployments with a ClickHouse server",
            2,
        )

    async def work(rt: Runtime) -> None:
        await run_mqtt_consumer(rt, admin_url=settings.mqtt_admin_url)

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


def _register_groups() -> None:
    """Command groups that live beside their domains."""
    from backend.cli_alarm_report import alarm_report
    from backend.cli_backup import backup
    from backend.cli_keys import keys
    from backend.cli_users import member, user

    main.add_command(alarm_report)
    main.add_command(backup)
    main.add_command(keys)
    main.add_command(user)
    main.add_command(member)


_register_groups()
