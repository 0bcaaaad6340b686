"""``anjian admin``, ``regulator``, ``user`` and ``member``: accounts and memberships from the
command line.

The operator at the command line acts as the system principal: it may create platform
administrators and regulators, add members with a password (accounts that work at once, as
``tenant create`` and ``regulator create`` make them), remove members and disable accounts.
Every change is audited like its GraphQL twin.
"""

from __future__ import annotations

import uuid

import click

from backend.auth.members import (
    unscoped_add_member_in_own_transaction,
    unscoped_list_members,
    unscoped_remove_member_in_own_transaction,
    unscoped_set_user_disabled_in_own_transaction,
)
from backend.auth.principal import Principal
from backend.cli._support import ensure_settings, handles_errors, output, run
from backend.core.settings import Settings
from backend.runtime import Runtime


@click.group()
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
                session=session, email=email, password=password, actor=actor, log2_n=rt.log2_n
            )
            await auth_service.grant_membership(
                session=session, user=user, domain="platform", role="platform_admin", actor=actor
            )
        return user.id

    user_id = run(settings, work)
    output(as_json, {"user_id": str(user_id)}, f"platform administrator {email}: {user_id}")


@click.group()
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
    from backend.oversight.service import create_regulator_in_own_transaction

    async def work(rt: Runtime) -> uuid.UUID:
        user = await create_regulator_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=Principal.system(),
            division_code=division,
            email=email,
            password=password,
            role=role,
            log2_n=rt.log2_n,
        )
        return user.id

    user_id = run(settings, work)
    output(as_json, {"user_id": str(user_id)}, f"regulator {email} ({role}, {division}): {user_id}")


@click.group()
@click.pass_context
def user(ctx: click.Context) -> None:
    """用户账户 Accounts: disable and enable."""
    ensure_settings(ctx)


def _set_disabled(settings: Settings, email: str, disabled: bool, as_json: bool) -> None:
    async def work(rt: Runtime) -> str:
        account = await unscoped_set_user_disabled_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=Principal.system(),
            disabled=disabled,
            email=email,
        )
        return str(account.id)

    user_id = run(settings, work)
    state = "disabled" if disabled else "enabled"
    extra = "; its sessions were ended" if disabled else ""
    output(
        as_json,
        {"user_id": user_id, "disabled": disabled},
        f"account {email} ({user_id}) {state}{extra}",
    )


@user.command("disable")
@click.option("--email", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def user_disable(settings: Settings, email: str, as_json: bool) -> None:
    """Disable an account: it cannot sign in, and every session of it ends at once."""
    _set_disabled(settings, email, True, as_json)


@user.command("enable")
@click.option("--email", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def user_enable(settings: Settings, email: str, as_json: bool) -> None:
    """Enable a disabled account again (it signs in with its old password)."""
    _set_disabled(settings, email, False, as_json)


@click.group()
@click.pass_context
def member(ctx: click.Context) -> None:
    """成员 Members of a domain (tenant:<uuid>, gov:<division>, platform)."""
    ensure_settings(ctx)


@member.command("add")
@click.option("--domain", required=True, help="tenant:<uuid>, gov:<division> or platform.")
@click.option("--email", required=True)
@click.option("--role", required=True)
@click.option("--password", default=None, help="For an address without an account.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def member_add(
    settings: Settings, domain: str, email: str, role: str, password: str | None, as_json: bool
) -> None:
    """Give an address a role at once (creating its account with --password if needed)."""

    async def work(rt: Runtime) -> str:
        account = await unscoped_add_member_in_own_transaction(
            sessions=rt.sessions,
            principal=Principal.system(),
            domain=domain,
            email=email,
            role=role,
            password=password,
            log2_n=rt.log2_n,
        )
        return str(account.id)

    user_id = run(settings, work)
    output(
        as_json,
        {"user_id": user_id, "domain": domain, "role": role},
        f"{email} ({user_id}) is {role} in {domain}",
    )


@member.command("remove")
@click.option("--domain", required=True, help="tenant:<uuid>, gov:<division> or platform.")
@click.option("--email", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def member_remove(settings: Settings, domain: str, email: str, as_json: bool) -> None:
    """Take a member's role in a domain away (the last owner of a tenant stays)."""

    async def work(rt: Runtime) -> None:
        await unscoped_remove_member_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=Principal.system(),
            domain=domain,
            email=email,
        )

    run(settings, work)
    output(as_json, {"domain": domain, "removed": True}, f"{email} removed from {domain}")


@member.command("list")
@click.option("--domain", required=True, help="tenant:<uuid>, gov:<division> or platform.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def member_list(settings: Settings, domain: str, as_json: bool) -> None:
    """The members of a domain, oldest first."""

    async def work(rt: Runtime) -> list[dict[str, object]]:
        rows = await unscoped_list_members(
            sessions=rt.sessions, authz=rt.authz, principal=Principal.system(), domain=domain
        )
        return [
            {
                "user_id": str(r.user_id),
                "email": r.email,
                "role": r.role,
                "since": r.since.isoformat(),
                "disabled": r.disabled,
                "suspended": r.suspended,
            }
            for r in rows
        ]

    members = run(settings, work)
    text = "\n".join(
        f"{m['email']}\t{m['role']}"
        + (" (disabled)" if m["disabled"] else "")
        + (" (suspended)" if m["suspended"] else "")
        for m in members
    )
    output(as_json, {"domain": domain, "members": members}, text or f"no members in {domain}")
