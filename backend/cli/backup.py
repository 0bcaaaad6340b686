"""``anjian backup``: create and restore off-site encrypted archives (异地灾备).

Exit codes follow the rest of the command line: 2 when the input or the situation is refused
(a tampered archive, a non-empty target, a running server owning the embedded engine), 1 for
anything else. ``--json`` prints one object on stdout; the progress bar goes to stderr.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from backend.cli._support import fail, output
from backend.core.errors import AnjianError, BadInput, StoreUnavailable
from backend.core.settings import Settings, load_settings
from backend.migrate import require_migrated
from backend.runtime import Runtime
from backend.telemetry.spool import SpoolBusy
from backend.telemetry.store import EngineBusy

if TYPE_CHECKING:
    from backend.backup import Stores

T = TypeVar("T")

_STOP_SERVER = (
    "嵌入式引擎正被服务占用，请先停止服务 / the embedded ClickHouse engine has one owner, and a "
    "backup or restore needs it: stop `anjian serve` (or `anjian demo`) first, or use a "
    "ClickHouse server (ANJIAN_CLICKHOUSE_URL), against which backups run online"
)


class _Bar:
    """The service's progress protocol on a rich bar (stderr; nothing when not a terminal)."""

    def __init__(self, bar: RichProgress) -> None:
        self._bar = bar
        self._task = bar.add_task("", total=None)

    def start(self, total: int) -> None:
        self._bar.update(self._task, total=max(total, 1))

    def step(self, description: str) -> None:
        self._bar.update(self._task, description=description)

    def advance(self, amount: int) -> None:
        self._bar.advance(self._task, amount)


@contextmanager
def _progress() -> Iterator[_Bar]:
    console = Console(stderr=True)
    with RichProgress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        yield _Bar(bar)


def backup_stores(runtime: Runtime) -> Stores:
    """The runtime's stores, each opened when the backup or restore gets to it."""
    from backend.backup import Stores

    return Stores(
        settings=runtime.settings,
        owner_engine=lambda: runtime.owner_engine,
        clickhouse=lambda: runtime.clickhouse,
        flusher=lambda: runtime.flusher,
    )


def _settings(ctx: click.Context) -> Settings:
    root = ctx.find_root().obj
    if isinstance(root, Settings):
        return root
    try:
        return load_settings()
    except AnjianError as exc:
        fail(exc.message, 2)
        raise


def _run(settings: Settings, work: Callable[[Runtime], T], *, existing_store: bool) -> T:
    """``existing_store``: the command reads a migrated store (create), as opposed to
    restoring into an empty one (restore)."""
    try:
        if existing_store:
            require_migrated(settings)
    except StoreUnavailable as exc:
        fail(exc.message, 2)
        raise
    runtime = Runtime(settings)
    try:
        return work(runtime)
    except (EngineBusy, SpoolBusy) as exc:
        fail(f"{exc.message}\n{_STOP_SERVER}", 2)
        raise
    except (BadInput, StoreUnavailable) as exc:
        fail(exc.message, 2)
        raise
    except AnjianError as exc:
        fail(exc.message, 1)
        raise
    finally:
        asyncio.run(runtime.close())


@click.group()
def backup() -> None:
    """异地灾备 Encrypted off-site backups of the relational, ClickHouse and object data."""


@backup.command()
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="A new or empty directory for the archive.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def create(ctx: click.Context, target: Path, as_json: bool) -> None:
    """Write an encrypted, integrity-checked archive of the whole store."""
    from backend.backup import create_backup

    settings = _settings(ctx)
    with _progress() as bar:
        report = _run(
            settings,
            lambda rt: create_backup(
                stores=backup_stores(rt), target=target.resolve(), progress=bar
            ),
            existing_store=True,
        )
    lines = [f"{f.name:<48} {f.rows:>12} rows {f.stored_bytes:>14} bytes" for f in report.files]
    text = "\n".join(
        [
            *lines,
            f"archive {report.archive} ({report.archive_id}), master key version "
            f"{report.key_version}, schema {report.relational_revision}, "
            f"{sum(f.stored_bytes for f in report.files)} bytes in {report.seconds:.1f} s",
            f"spool: {report.spool}",
        ]
    )
    output(as_json, report.as_json(), text)


@backup.command()
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="The archive directory written by `anjian backup create`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def restore(ctx: click.Context, source: Path, as_json: bool) -> None:
    """Restore an archive into an empty data directory and database, given its keyring."""
    from backend.backup import restore_backup

    settings = _settings(ctx)
    with _progress() as bar:
        report = _run(
            settings,
            lambda rt: restore_backup(
                stores=backup_stores(rt), source=source.resolve(), progress=bar
            ),
            existing_store=False,
        )
    lines = [
        f"{c.name:<48} {c.loaded_rows:>12}/{c.expected_rows} rows  "
        f"checksum {c.loaded_fingerprint} {'ok' if c.ok else 'MISMATCH'}"
        for c in report.checked
    ]
    text = "\n".join(
        [
            *lines,
            f"restored {report.archive} ({report.created_at}, master key version "
            f"{report.key_version}); schema {report.relational_revision} → "
            f"{report.relational_head}; {report.seconds:.1f} s",
        ]
    )
    output(as_json, report.as_json(), text)
