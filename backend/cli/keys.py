"""``anjian keys``: the master keyring and the data keys it wraps.

``rotate`` appends a master key version to the keyring file first and only then re-wraps the
data keys in one transaction: a crash in between leaves an unused version, never a data key
wrapped under a key the file lacks. Older versions stay in the file, so data, tokens and
backups made under them stay readable.
"""

from __future__ import annotations

import json
from typing import Any

import click

from backend.cli._support import ensure_settings, handles_errors, run
from backend.core.settings import Settings
from backend.runtime import Runtime
from privacy.crypto import RotationReport, key_status, rotate_data_keys
from privacy.keyring import add_version
from tenants.scope import unscoped_session


@click.group()
@click.pass_context
def keys(ctx: click.Context) -> None:
    """主密钥与数据密钥 Master keyring and data keys: rotation and status."""
    ensure_settings(ctx)


@keys.command("rotate")
@click.option(
    "--rewrap-only",
    is_flag=True,
    help="Only re-wrap the data keys; issue no new data-key versions.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def rotate(settings: Settings, rewrap_only: bool, as_json: bool) -> None:
    """Add a master key version and re-wrap every data key under it."""
    add_version(settings.master_key_file)

    async def unscoped_rewrap(rt: Runtime) -> RotationReport:
        # Every tenant's data keys, whatever the scope: the keyring is the platform's.
        async with unscoped_session(rt.sessions) as session, session.begin():
            return await rotate_data_keys(session=session, issue=not rewrap_only)

    report = run(settings, unscoped_rewrap)
    payload = {
        "keyring": str(settings.master_key_file),
        "master_version": report.master_version,
        "rewrapped": report.rewrapped,
        "issued": report.issued,
        "destroyed_tenants": report.destroyed_tenants,
    }
    if as_json:
        click.echo(json.dumps(payload))
        return
    click.echo(
        f"主密钥版本 {report.master_version} 已添加 / master key version "
        f"{report.master_version} added to {settings.master_key_file}\n"
        f"重新包装数据密钥 / data keys re-wrapped: {report.rewrapped}\n"
        f"新数据密钥版本 / new data-key versions issued: {report.issued}\n"
        f"已销毁密钥的租户（跳过）/ tenants with destroyed keys (skipped): "
        f"{report.destroyed_tenants}"
    )


@keys.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
@handles_errors
def status(settings: Settings, as_json: bool) -> None:
    """Master key versions and how many data keys each one wraps (no key material)."""

    async def unscoped_status(rt: Runtime) -> dict[str, Any]:
        async with unscoped_session(rt.sessions) as session, session.begin():
            return await key_status(session=session)

    report = run(settings, unscoped_status)
    report = {"keyring": str(settings.master_key_file), **report}
    if as_json:
        click.echo(json.dumps(report))
        return
    master, data = report["master"], report["data_keys"]
    versions = ", ".join(f"{v['version']} ({v['created_at']})" for v in master["versions"])
    wrapped = ", ".join(f"v{m}: {n}" for m, n in data["by_master_version"].items()) or "none"
    click.echo(
        f"密钥环 keyring: {report['keyring']}\n"
        f"当前主密钥版本 current master version: {master['current']}\n"
        f"全部版本 versions: {versions}\n"
        f"租户 tenants with data keys: {data['tenants']} "
        f"({data['tenant_key_versions']} key versions)\n"
        f"平台 platform key versions: {data['platform_key_versions']}\n"
        f"已销毁 tenants crypto-shredded: {data['destroyed_tenants']}\n"
        f"按主密钥版本 data keys by master version: {wrapped}\n"
        f"未用当前主密钥包装 not under the current master: {data['not_under_current_master']}"
    )
