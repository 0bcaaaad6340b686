"""``anjian audit`` and ``anjian retention``: the audit trail (verify, checkpoint, purge, export)
and the retention run that purges expired data."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from backend.cli._support import handles_errors, output, parse_instant, run
from backend.core.settings import Settings
from backend.runtime import Runtime
from privacy.audit import Actor


@click.command("retention")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handles_errors
def retention_run(settings: Settings, as_json: bool) -> None:
    """Purge expired data, erase offboarded tenants past their floors, sign an audit
    checkpoint (the server runs this daily; beside a ClickHouse server, run it from cron)."""
    report = run(settings, lambda rt: rt.retention.run())
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


@click.group()
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
            return await verify_chain(session=session, keyring=rt.keyring)

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
            return await create_checkpoint(session=session, keyring=rt.keyring)

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
    from privacy.audit import check_purge_cutoff, purge_before_in_own_transaction

    cutoff = parse_instant(before, option="--before")
    check_purge_cutoff(cutoff)

    async def work(rt: Runtime) -> Any:
        return purge_before_in_own_transaction(
            engine=rt.owner_engine, keyring=rt.keyring, before=cutoff, actor=_cli_actor()
        )

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
    from privacy.audit import check_export_window, export_entries

    since = None if start is None else parse_instant(start, option="--from")
    until = None if end is None else parse_instant(end, option="--to", end_of_day=True)
    check_export_window(since, until)

    async def work(rt: Runtime) -> Any:
        async with rt.sessions() as session, session.begin():
            return await export_entries(
                session=session,
                out=out,
                fmt="csv" if fmt == "csv" else "json",
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
