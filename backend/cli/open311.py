"""``anjian open311``: the platform administrator's controls of Open311 GeoReport v2 — the API
keys of its clients (city apps, 12345 hotline systems). Every change is audited."""

from __future__ import annotations

import click

from backend.cli._support import ensure_settings, handles_errors, output, parse_uuid, run, table
from backend.core.settings import Settings
from backend.reports.open311.keys import KeyInfo, create_key, list_keys, revoke_key
from backend.reports.service import public_session
from backend.runtime import Runtime
from privacy.audit import Actor


def _row(key: KeyInfo) -> dict[str, str | None]:
    return {
        "id": str(key.id),
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at.isoformat(),
        "revoked_at": None if key.revoked_at is None else key.revoked_at.isoformat(),
    }


@click.group("open311")
@click.pass_context
def open311(ctx: click.Context) -> None:
    """Open311 GeoReport v2: the API keys of its clients."""
    ensure_settings(ctx)


@open311.group("keys")
def open311_keys() -> None:
    """Open311 客户端密钥 API keys of Open311 clients: issue, list, revoke."""


@open311_keys.command("create")
@click.option("--name", required=True, help="Whose key it is (at most 100 characters).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def create(settings: Settings, name: str, as_json: bool) -> None:
    """Issue a key; it is printed this once and never stored."""

    async def work(rt: Runtime) -> tuple[KeyInfo, str]:
        async with public_session(rt.sessions) as session, session.begin():
            return await create_key(session, name=name, actor=Actor.system())

    issued, key = run(settings, work)
    output(
        as_json,
        {"key": _row(issued), "api_key": key},
        f"已签发 / issued to {issued.name} ({issued.id}):\n{key}\n"
        "此密钥只显示这一次 / this key is shown only once",
    )


@open311_keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def list_(settings: Settings, as_json: bool) -> None:
    """Every key, the oldest first (never the keys themselves)."""

    async def work(rt: Runtime) -> list[KeyInfo]:
        async with public_session(rt.sessions) as session:
            return await list_keys(session)

    found = run(settings, work)
    table(
        as_json,
        {"keys": [_row(k) for k in found]},
        "keys",
        [
            ("id", "编号 id"),
            ("name", "名称 name"),
            ("prefix", "前缀 prefix"),
            ("created_at", "签发 created"),
            ("revoked_at", "吊销 revoked"),
        ],
    )


@open311_keys.command("revoke")
@click.option("--id", "key_id", required=True, help="The key's id (from list).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def revoke(settings: Settings, key_id: str, as_json: bool) -> None:
    """Revoke a key: its client is refused (403) from now on."""
    parsed = parse_uuid(key_id, "key id")

    async def work(rt: Runtime) -> KeyInfo:
        async with public_session(rt.sessions) as session, session.begin():
            return await revoke_key(session, key_id=parsed, actor=Actor.system())

    revoked = run(settings, work)
    output(as_json, {"revoked": _row(revoked)}, f"已吊销 / revoked: {revoked.name} ({revoked.id})")
