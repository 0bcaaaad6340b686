"""The levels of a library rule: parse one, and check them as a threshold or a single-level rule.

Per direction the levels of a threshold rule move outward, their severities never fall and the
most extreme one is RED; ``clear_at`` lies on the safe side of its setpoint; a level with
``limit_pct`` sits within 90–100 % of that share of the exposure ``limit``; stale, rate, offline,
composite and event rules have one level matching their params.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from backend.alarms.indicators._context import PRESENCE, Ctx
from backend.alarms.rules import Direction, Level, PermitKind, RuleKind, Severity
from backend.telemetry.kinds import catalog
from tenants.models import ZoneKind

_LEVEL_KEYS = ("name", "label_zh", "label_en", "severity", "direction", "setpoint", "clear_at")


def parse_level(ctx: Ctx, where: str, raw: object, limit: float | None) -> tuple[Level, str, str]:
    d = ctx.obj(where, raw, _LEVEL_KEYS, ("limit_pct",))
    level = Level(
        ctx.text(f"{where}.name", d["name"]),
        ctx.choice(f"{where}.severity", d["severity"], Severity, "severity"),
        ctx.choice(f"{where}.direction", d["direction"], Direction, "direction"),
        ctx.number(f"{where}.setpoint", d["setpoint"]),
        ctx.number(f"{where}.clear_at", d["clear_at"]),
    )
    high = level.direction is Direction.HIGH
    if (level.clear_at > level.setpoint) if high else (level.clear_at < level.setpoint):
        side = "at or below" if high else "at or above"
        ctx.fail(
            where, f"clear_at {level.clear_at:g} must be {side} the setpoint {level.setpoint:g}"
        )
    if "limit_pct" in d:
        pct = ctx.number(f"{where}.limit_pct", d["limit_pct"], positive=True)
        if limit is None:
            ctx.fail(where, 'limit_pct needs a "limit" on the entry or gas')
        allowed = limit * pct / 100
        if not 0.9 * allowed - 1e-9 <= level.setpoint <= allowed + 1e-9:
            ctx.fail(
                where,
                f"setpoint {level.setpoint:g} must be within 90–100 % of {pct:g} % of the "
                f"limit ({allowed:.4g})",
            )
    labels = (
        ctx.text(f"{where}.label_zh", d["label_zh"]),
        ctx.text(f"{where}.label_en", d["label_en"]),
    )
    return level, *labels


def check_threshold(ctx: Ctx, where: str, levels: Sequence[Level]) -> None:
    """Per direction, from the least to the most extreme level: setpoints move outward,
    severities never fall, and the most extreme level is RED. Highs lie above lows."""
    for direction in Direction:
        side = [lv for lv in levels if lv.direction is direction]
        for before, after in pairwise(side):
            outward = (
                after.setpoint > before.setpoint
                if direction is Direction.HIGH
                else (after.setpoint < before.setpoint)
            )
            if not outward:
                ctx.fail(
                    where,
                    f"{direction.value} levels out of order: {after.name!r} must be "
                    f"more extreme than {before.name!r}",
                )
            if after.severity.rank < before.severity.rank:
                ctx.fail(where, f"{after.name!r} is less severe than {before.name!r} before it")
        if side and side[-1].severity is not Severity.RED:
            ctx.fail(
                where, f"the most extreme {direction.value} level {side[-1].name!r} must be RED"
            )
    highs = [lv for lv in levels if lv.direction is Direction.HIGH]
    lows = [lv for lv in levels if lv.direction is Direction.LOW]
    if highs and lows:
        floor, ceiling = max(lv.setpoint for lv in lows), min(lv.setpoint for lv in highs)
        if any(lv.clear_at <= floor for lv in highs) or any(lv.clear_at >= ceiling for lv in lows):
            ctx.fail(where, "high and low levels (with their clear_at) overlap")


def check_single(
    ctx: Ctx, where: str, kind: RuleKind, levels: Sequence[Level], params: dict[str, Any]
) -> None:
    if len(levels) != 1 or levels[0].direction is not Direction.HIGH:
        ctx.fail(where, f"a {kind.value} rule has exactly one level, direction high")
    level = levels[0]

    def param(key: str, *, equals: float | None = None, required: bool = True) -> None:
        if key not in params:
            if required:
                ctx.fail(f"{where}.params", f"missing {key}")
            return
        value = ctx.number(f"{where}.params.{key}", params[key], positive=True)
        if equals is not None and not math.isclose(value, equals, rel_tol=1e-9):
            ctx.fail(f"{where}.params.{key}", f"{value:g} differs from the level's {equals:g}")

    if kind is RuleKind.STALE:
        if level.severity is not Severity.BLUE or level.clear_at != level.setpoint:
            ctx.fail(where, "a stale level is BLUE with clear_at equal to its setpoint")
        param("seconds", equals=level.setpoint)
    elif kind is RuleKind.RATE_OF_CHANGE:
        param("max_per_minute", equals=level.setpoint)
        param("clear_below", equals=level.clear_at, required=False)
        param("window_s")
        param("min_span_s", required=False)
        param("min_readings", required=False)
        if float(params.get("min_span_s", 0)) >= float(params["window_s"]):
            # The estimate runs over the window's closed slots: they never span all of it.
            ctx.fail(f"{where}.params.min_span_s", "must be shorter than window_s")
    elif kind is RuleKind.OFFLINE:
        if level.severity is not Severity.BLUE or level.clear_at != level.setpoint:
            ctx.fail(where, "an offline level is BLUE with clear_at equal to its setpoint")
        param("seconds", equals=level.setpoint)
    elif kind is RuleKind.COMPOSITE:
        if level.setpoint != 1 or level.clear_at != 1:
            ctx.fail(where, "a composite level counts the combination: setpoint and clear_at 1")
        check_conditions(ctx, f"{where}.params", params)
    else:  # EVENT
        event_type = ctx.text(f"{where}.params.event_type", params.get("event_type"))
        param("clear_after_s", required=False)
        if event_type == PRESENCE:
            param("max_seconds", equals=level.setpoint)
            ctx.choice(f"{where}.params.zone_kind", params.get("zone_kind"), ZoneKind, "zone kind")
        elif level.setpoint != 1 or level.clear_at != 1:
            ctx.fail(where, "an event level counts one occurrence: setpoint and clear_at 1")


def check_conditions(ctx: Ctx, where: str, params: dict[str, Any]) -> None:
    if params.get("op") not in ("AND", "OR"):
        ctx.fail(f"{where}.op", f"must be AND or OR, got {params.get('op')!r}")
    conditions = params.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        ctx.fail(f"{where}.conditions", "must be a non-empty list")
    for i, cond in enumerate(conditions):
        at = f"{where}.conditions[{i}]"
        if not isinstance(cond, dict):
            ctx.fail(at, "must be an object")
        if "permit" in cond:
            ctx.obj(at, cond, ("permit",), ())
            ctx.choice(f"{at}.permit", cond["permit"], PermitKind, "permit kind")
            continue
        high = "above" in cond
        keys = ("sensor_kind", "above") if high else ("sensor_kind", "below")
        ctx.obj(at, cond, keys, ("clear_below",) if high else ("clear_above",))
        if cond["sensor_kind"] not in catalog():
            ctx.fail(f"{at}.sensor_kind", f"unknown sensor kind {cond['sensor_kind']!r}")
        edge = float(ctx.number(f"{at}.{keys[1]}", cond[keys[1]]))
        clear_key = "clear_below" if high else "clear_above"
        clear = float(ctx.number(f"{at}.{clear_key}", cond.get(clear_key, edge)))
        if (clear > edge) if high else (clear < edge):
            ctx.fail(f"{at}.{clear_key}", "must lie on the safe side of the setpoint")
