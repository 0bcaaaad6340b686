"""What every command group shares: errors as exit codes, a runtime per command, output, and
the parsing of the flags several commands take (UUIDs, dates)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

import click
from sqlalchemy.exc import InterfaceError, OperationalError

from backend.core.errors import AnjianError, BadInput, StoreUnavailable
from backend.core.settings import Settings, load_settings
from backend.migrate import MigrationReport, migrate, require_migrated
from backend.runtime import Runtime
from privacy.audit import CHINA_TIME

T = TypeVar("T")


def fail(message: str, code: int) -> None:
    click.echo(f"anjian: error: {message}", err=True)
    sys.exit(code)


def ensure_settings(ctx: click.Context) -> None:
    """A command group run on its own rather than under ``anjian`` loads the settings itself."""
    if ctx.obj is None:
        try:
            ctx.obj = load_settings()
        except AnjianError as exc:
            fail(exc.message, 2)


def handles_errors(fn: Callable[..., T]) -> Callable[..., T]:
    """Bad input and a store that is not ready (unreachable, not migrated, its embedded
    engine held by a server) exit 2 — the caller can fix them — any other refusal 1, each
    with one line on stderr."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (BadInput, StoreUnavailable) as exc:
            fail(exc.message, 2)
        except AnjianError as exc:
            fail(exc.message, 1)
        except (OperationalError, InterfaceError) as exc:
            # The database went away after the command's start-up check.
            fail(f"the database stopped answering: {str(exc.orig).strip() or exc}", 2)
        raise AssertionError("unreachable")

    return wrapper


def run(settings: Settings, work: Callable[[Runtime], Awaitable[T]]) -> T:
    """``work`` on a runtime of its own, closed afterwards; refused before anything is opened
    or created when the store is unreachable or not migrated."""
    require_migrated(settings)

    async def main() -> T:
        runtime = Runtime(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    return asyncio.run(main())


def migrate_store(settings: Settings) -> MigrationReport:
    """``anjian migrate`` (and the demo's first step): both schemas to head, then the seeds."""
    runtime = Runtime(settings)
    return migrate(
        owner_engine=runtime.owner_engine,
        keyring=runtime.keyring,
        clickhouse=runtime.clickhouse,
        cluster=settings.clickhouse_cluster,
    )


def output(as_json: bool, payload: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False) if as_json else text)


def parse_uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadInput(f"{what} must be a UUID, got {value!r}") from None


def parse_instant(value: str, *, option: str, end_of_day: bool = False) -> datetime:
    """``YYYY-MM-DD`` or an ISO 8601 time; without a zone it is China time. A bare date means
    the start of that day, or with ``end_of_day`` the start of the next (an exclusive end)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=CHINA_TIME)
            return start + timedelta(days=1) if end_of_day else start
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"{option} 须为日期 YYYY-MM-DD 或 ISO 8601 时间 / {option} must be a date "
            f"(YYYY-MM-DD) or an ISO 8601 time, got {value!r}"
        ) from None
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=CHINA_TIME)


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(value)  # sensors: their codes
    return str(value)


def table(as_json: bool, payload: dict[str, Any], key: str, columns: list[tuple[str, str]]) -> None:
    """``payload[key]`` (a list of rows) as one JSON object, or as a table on stdout: rich
    draws it for a terminal and wide enough for whole UUIDs when piped."""
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    rows = payload[key]
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 240))
    drawn = Table(show_lines=False)
    for _, title in columns:
        drawn.add_column(title, overflow="fold")
    for row in rows:
        drawn.add_row(*(_cell(row[field]) for field, _ in columns))
    console.print(drawn)
    console.print(f"{key}: {len(rows)}", style="dim")
