"""``anjian site``: sites and their subscriptions."""

from __future__ import annotations

import uuid

import click

from backend.auth.principal import Principal
from backend.cli._support import handles_errors, output, parse_uuid, run, table
from backend.core.settings import Settings
from backend.runtime import Runtime
from tenants.scope import Scope


@click.group()
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
    from tenants.service import create_site_in_own_transaction

    tid = parse_uuid(tenant_id, "--tenant")

    async def work(rt: Runtime) -> uuid.UUID:
        created = await create_site_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=Principal.system(Scope.for_tenant(tid)),
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
    from backend.oversight.listings import unscoped_site_list

    tid = None if tenant_id is None else parse_uuid(tenant_id, "--tenant")
    rows = run(settings, lambda rt: unscoped_site_list(sessions=rt.sessions, tenant_id=tid))
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
    from tenants.service import unscoped_set_subscription_status_in_own_transaction

    sid = parse_uuid(site_id, "--site")

    async def work(rt: Runtime) -> None:
        await unscoped_set_subscription_status_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=Principal.system(),
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
