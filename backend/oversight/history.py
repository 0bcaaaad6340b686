"""A jurisdiction's online rate (在线率) day by day, from the hourly rollup.

A day's rate is the sensor-hours that had at least one reading over the sensor-hours the
division's sites should have delivered: its registered sensors now (devices not revoked) times
the day's hours in China time (today's up to the current hour, included). A sensor registered
mid-month therefore counts as missing before it existed; the registry keeps no history of when
a sensor joined, and the figure errs on the side a regulator chases. Rates are capped at 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth import service as auth_service
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, NotFound
from backend.oversight.notices.service import CHINA_TIME
from backend.oversight.overview import (
    regulated_division,
    retired_sensors,
    sensors_by_site,
    sites_inside,
)
from backend.oversight.service import gov_domain
from backend.telemetry.status import reported_hours_by_day
from tenants.divisions import division_prefix

HISTORY_DAYS_MAX = 90


@dataclass(frozen=True)
class DailyOnlineRate:
    day: date  # in China time
    rate: float | None  # None without sensors


async def online_rate_by_day(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    client: Any,  # the telemetry store's client, handed to backend.telemetry
    division_code: str | None,
    days: int = 30,
    clock: Clock = WALL_CLOCK,
) -> list[DailyOnlineRate]:
    """The last ``days`` (1 to 90) days' online rates of a division of the caller's
    jurisdiction, oldest first, today last. ``NotFound`` for a caller who regulates nothing."""
    if not 1 <= days <= HISTORY_DAYS_MAX:
        raise BadInput(f"days must be between 1 and {HISTORY_DAYS_MAX}", field="days")
    code = regulated_division(principal, division_code)
    if code is None:
        raise NotFound("no jurisdiction: you regulate no division")
    auth_service.require(authz, principal, gov_domain(code), "site", "read")
    prefix = division_prefix(code)
    now = clock.now().astimezone(CHINA_TIME)
    first_day = now.date() - timedelta(days=days - 1)
    sites = await sites_inside(session=session, prefix=prefix)
    sensors = sum((await sensors_by_site(session=session, prefix=prefix)).values())
    retired = await retired_sensors(session=session, prefix=prefix)
    reported = await anyio.to_thread.run_sync(
        partial(
            reported_hours_by_day,
            client,
            principal.scope,
            site_ids=[s.id for s in sites],
            first_day=first_day,
            leaving_out=retired,
        )
    )
    rates = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        hours = now.hour + 1 if day == now.date() else 24
        expected = sensors * hours
        rate = min(1.0, reported.get(day, 0) / expected) if expected else None
        rates.append(DailyOnlineRate(day=day, rate=rate))
    return rates
