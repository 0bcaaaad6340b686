"""``anjian user`` and ``anjian member``: accounts and memberships from the command line.

The operator at the command line acts as the system principal: it may add members with a
password (accounts that work at once, as ``tenant create`` and ``regulator create`` make them),
remove members and disable accounts. Every change is audited like its GraphQL twin.
"""

from __future__ import annotations

import click

from backend.auth.members import add_member, list_members, remove_member, set_user_disabled
from backend.auth.principal import Principal
from backend.cli_support import fail, handles_errors, output, run
from backend.core.errors import AnjianError
from backend.core.settings import Settings, load_settings
from backend.runtime import Runtime


def _settings(ctx: click.Context) -> None:
    if ctx.obj is None:  # run on its own rather than under ``anjian``
        try:
            ctx.obj = load_settings()
        except AnjianError as exc:
            fail(exc.message, 2)


@click.group()
@click.pass_context
def user(ctx: click.Context) -> None:
    """用户账户 Accounts: disable and enable."""
    _settings(ctx)


def _set_disabled(settings: Settings, email: str, disabled: bool, as_json: bool) -> None:
    async def work(rt: Runtime) -> str:
        account = await set_user_disabled(
            rt.sessions, rt.authz, Principal.system(), disabled=disabled, email=email
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
    _settings(ctx)


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
        account = await add_member(
            rt.sessions,
            Principal.system(),
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
        await remove_member(rt.sessions, rt.authz, Principal.system(), domain=domain, email=email)

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
        rows = await list_members(rt.sessions, rt.authz, Principal.system(), domain=domain)
        return [
            {
                "user_id": str(r.user_id),
                "email": r.email,
                "role": r.role,
                "since": r.since.isoformat(),
                "disabled": r.disabled,
            }
            for r in rows
        ]

    members = run(settings, work)
    text = "\n".join(
        f"{m['email']}\t{m['role']}{' (disabled)' if m['disabled'] else ''}" for m in members
    )
    output(as_json, {"domain": domain, "members": members}, text or f"no members in {domain}")
