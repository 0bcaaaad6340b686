"""What every command group shares: errors as exit codes, a runtime per command, output."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

import click

from backend.core.errors import AnjianError, BadInput
from backend.core.settings import Settings
from backend.runtime import Runtime

T = TypeVar("T")


def fail(message: str, code: int) -> None:
    click.echo(f"anjian: error: {message}", err=True)
    sys.exit(code)


def handles_errors(fn: Callable[..., T]) -> Callable[..., T]:
    """Bad input exits 2, any other refusal 1, each with its message on stderr."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except BadInput as exc:
            fail(exc.message, 2)
        except AnjianError as exc:
            fail(exc.message, 1)
        raise AssertionError("unreachable")

    return wrapper


def run(settings: Settings, work: Callable[[Runtime], Awaitable[T]]) -> T:
    """``work`` on a runtime of its own, closed afterwards."""

    async def main() -> T:
        runtime = Runtime(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    return asyncio.run(main())


def output(as_json: bool, payload: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False) if as_json else text)


def parse_uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadInput(f"{what} must be a UUID, got {value!r}") from None
