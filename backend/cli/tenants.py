"""``anjian tenant``: provision, list and offboard tenants (enterprises)."""

from __future__ import annotations

import uuid

import click

from backend.auth.principal import Principal
from backend.cli._support import handles_errors, output, parse_uuid, run, table
from backend.core.settings import Settings
from backend.runtime import Runtime


@click.group()
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
    from backend.auth.provisioning import unscoped_provision_tenant_in_own_transaction

    async def work(rt: Runtime) -> uuid.UUID:
        created = await unscoped_provision_tenant_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=Principal.system(),
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

    rows = run(settings, lambda rt: unscoped_tenant_list(sessions=rt.sessions))
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
    from tenants.service import unscoped_offboard_tenant_in_own_transaction

    tid = parse_uuid(tenant_id, "--tenant")

    async def work(rt: Runtime) -> None:
        await unscoped_offboard_tenant_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=Principal.system(),
            tenant_id=tid,
            reason=reason,
        )

    run(settings, work)
    output(
        as_json,
        {"tenant_id": str(tid), "status": "offboarding"},
        f"tenant {tid}: offboarding; erased by the retention job once its major hazard sites' "
        f"records are {MAJOR_HAZARD_MONITORING_FLOOR.days} days old (at once if it has none)",
    )
