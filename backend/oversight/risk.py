"""A site's risk colour (风险四色: 红 橙 黄 蓝) on the regulators' map, and the rule that sets it.

The colour is the first rule below that holds, most severe first:

RED (重大风险)
    an active (not cleared) RED alarm; or, at a major hazard site (any grade), an alarm nobody
    acknowledged within its rule's deadline (``ack_deadline_s``: it has escalated, or its first
    escalation is due).
ORANGE (较大风险)
    an active ORANGE alarm; or a major hazard source of grade I or II with any active alarm; or
    a sensor online rate below 90 % (``DEGRADED_ONLINE_RATE``); or a rectification notice past
    its deadline while it waits for the enterprise (``overdue_notices``).
YELLOW (一般风险)
    any active alarm; or an online rate below the required 99.5 %
    (``backend.telemetry.status.REQUIRED_ONLINE_RATE``); or a major hazard source of grade I to
    III, whatever its alarms.
BLUE (低风险)
    otherwise.

A site without sensors has no online rate and the rate raises nothing. A division's colour is
the worst of its sites' (none without sites).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from backend.telemetry.status import REQUIRED_ONLINE_RATE

# Below this online rate a site's monitoring is degraded enough to be ORANGE.
DEGRADED_ONLINE_RATE = 0.90


class RiskColor(enum.StrEnum):
    RED = "RED"
    ORANGE = "ORANGE"
    YELLOW = "YELLOW"
    BLUE = "BLUE"

    @property
    def rank(self) -> int:
        """Higher is worse: RED 4 … BLUE 1."""
        return _RANK[self]


_RANK = {RiskColor.RED: 4, RiskColor.ORANGE: 3, RiskColor.YELLOW: 2, RiskColor.BLUE: 1}


@dataclass(frozen=True)
class RiskInputs:
    """What the rule reads of one site."""

    active_red: int = 0
    active_orange: int = 0
    active_alarms: int = 0  # every active alarm, the RED and ORANGE ones included
    overdue_unacknowledged: int = 0  # active alarms not acknowledged within their deadline
    major_hazard_grade: int | None = None  # 1-4 (I-IV), None when not a major hazard source
    online_rate: float | None = None  # 0-1, None without sensors
    overdue_notices: int = 0  # rectification notices overdue (backend.oversight.notices)


def site_risk_color(inputs: RiskInputs) -> RiskColor:
    """The site's colour by the rule of this module's docstring."""
    grade = inputs.major_hazard_grade
    rate = inputs.online_rate
    if inputs.active_red or (grade is not None and inputs.overdue_unacknowledged):
        return RiskColor.RED
    if (
        inputs.active_orange
        or (grade in (1, 2) and inputs.active_alarms)
        or (rate is not None and rate < DEGRADED_ONLINE_RATE)
        or inputs.overdue_notices
    ):
        return RiskColor.ORANGE
    if (
        inputs.active_alarms
        or (rate is not None and rate < REQUIRED_ONLINE_RATE)
        or grade in (1, 2, 3)
    ):
        return RiskColor.YELLOW
    return RiskColor.BLUE


def worst(colors: Iterable[RiskColor]) -> RiskColor | None:
    """The most severe colour of ``colors``; None when there are none."""
    return max(colors, key=lambda c: c.rank, default=None)
