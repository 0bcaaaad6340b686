"""``anjian reports``: the platform administrator's controls of public hazard reports — the
networks whose submissions are refused."""

from __future__ import annotations

import click

from backend.cli._support import ensure_settings, handles_errors, output, run, table
from backend.core.settings import Settings
from backend.reports.blocklist import Block, block_network, list_blocks, unblock_network
from backend.reports.service import public_session
from backend.runtime import Runtime
from privacy.audit import Actor


def _row(block: Block) -> dict[str, str | None]:
    return {
        "network": block.network,
        "reason": block.reason,
        "created_at": block.created_at.isoformat(),
    }


@click.group()
@click.pass_context
def reports(ctx: click.Context) -> None:
    """公众举报 Public hazard reports: the blocklist of client networks."""
    ensure_settings(ctx)


@reports.command("block")
@click.option("--network", required=True, help="An IP address or a CIDR network.")
@click.option("--reason", default=None, help="Why (kept with the entry, at most 200 characters).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def block(settings: Settings, network: str, reason: str | None, as_json: bool) -> None:
    """Refuse reports, photos and challenges from a network (answered 403)."""

    async def work(rt: Runtime) -> Block:
        async with public_session(rt.sessions) as session, session.begin():
            return await block_network(
                session, network=network, reason=reason, actor=Actor.system()
            )

    added = run(settings, work)
    output(
        as_json,
        {"blocked": _row(added)},
        f"已禁止 / blocked: {added.network}" + (f" ({added.reason})" if added.reason else ""),
    )


@reports.command("unblock")
@click.option("--network", required=True, help="The network as it was blocked.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def unblock(settings: Settings, network: str, as_json: bool) -> None:
    """Take a network off the blocklist."""

    async def work(rt: Runtime) -> str:
        async with public_session(rt.sessions) as session, session.begin():
            return await unblock_network(session, network=network, actor=Actor.system())

    removed = run(settings, work)
    output(as_json, {"unblocked": removed}, f"已解除 / unblocked: {removed}")


@reports.command("blocklist")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def blocklist(settings: Settings, as_json: bool) -> None:
    """The blocked networks."""

    async def work(rt: Runtime) -> list[Block]:
        async with public_session(rt.sessions) as session:
            return await list_blocks(session)

    blocks = run(settings, work)
    table(
        as_json,
        {"blocks": [_row(b) for b in blocks]},
        "blocks",
        [("network", "网段 network"), ("reason", "原因 reason"), ("created_at", "时间 added")],
    )
