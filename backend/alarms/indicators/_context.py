"""What the checks of a library file share: the files, the vocabulary, the error and ``Ctx``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from backend.core.errors import ConfigurationError
from tenants.models import Industry, ZoneKind

INDUSTRIES = tuple(i.value for i in Industry)
CROSS_INDUSTRY = ("wearables", "generic")  # the layers after the industry's own file, in order
FILES = (*INDUSTRIES, *CROSS_INDUSTRY)
PRESENCE = "presence"
# Event types that feed the presence rule and raise no alarm of their own.
PRESENCE_INPUTS = frozenset({"zone.enter", "zone.exit", "wearable.position"})
ZONE_KINDS = frozenset(z.value for z in ZoneKind)


class IndicatorLibraryError(ConfigurationError):
    """A broken indicator library file; the message names the file and the place in it."""


class Ctx:
    """Reads one file, failing with its path and the place in it."""

    def __init__(self, path: str) -> None:
        self.path, self.source = path, Path(path).name

    def fail(self, where: str, problem: str) -> NoReturn:
        raise IndicatorLibraryError(
            f"{self.path}: {where}: {problem}" if where else f"{self.path}: {problem}"
        )

    def obj(
        self, where: str, value: object, required: Sequence[str], optional: Sequence[str] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {type(value).__name__}")
        missing = [key for key in required if key not in value]
        if missing:
            self.fail(where, f"missing {', '.join(missing)}")
        unknown = sorted(set(value) - set(required) - set(optional))
        if unknown:
            self.fail(where, f"unknown key(s) {', '.join(unknown)}")
        return value

    def mapping(self, where: str, value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {type(value).__name__}")
        return value

    def text(self, where: str, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"must be a non-empty string, got {value!r}")
        return value

    def number(self, where: str, value: object, *, positive: bool = False) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.fail(where, f"must be a finite number, got {value!r}")
        if positive and value <= 0:
            self.fail(where, f"must be above 0, got {value!r}")
        return float(value)

    def choice(self, where: str, value: object, allowed: Any, what: str) -> Any:
        try:
            return allowed(value)
        except ValueError:
            self.fail(where, f"unknown {what} {value!r}")
