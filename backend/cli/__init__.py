"""The ``anjian`` command line.

``--json`` prints exactly one JSON object on stdout; progress and logs go to stderr; errors go
to stderr with a non-zero exit (2 for bad input and for a store that is unreachable, not
migrated or busy, 1 for anything else).

One module per command group; this one holds the root group and hangs the others under it.
"""

from __future__ import annotations

import click

from backend.cli._support import fail
from backend.cli.alarms import alarm_report
from backend.cli.audit import audit, retention_run
from backend.cli.backup import backup
from backend.cli.bench import bench
from backend.cli.devices import device
from backend.cli.keys import keys
from backend.cli.mqtt import mqtt_group
from backend.cli.open311 import open311
from backend.cli.reports import reports
from backend.cli.serve import demo, dev_cert, migrate, serve, worker
from backend.cli.sites import site
from backend.cli.tenants import tenant
from backend.cli.users import admin, member, regulator, user
from backend.core.errors import AnjianError
from backend.core.settings import load_settings


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """安监 Anjian: safety-production monitoring. Settings come from ANJIAN_* variables."""
    try:
        ctx.obj = load_settings()
    except AnjianError as exc:
        fail(exc.message, 2)


for command in (
    admin,
    alarm_report,
    audit,
    backup,
    bench,
    demo,
    dev_cert,
    device,
    keys,
    member,
    migrate,
    mqtt_group,
    open311,
    regulator,
    reports,
    retention_run,
    serve,
    site,
    tenant,
    user,
    worker,
):
    main.add_command(command)

__all__ = ["main"]
