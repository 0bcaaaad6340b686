"""The alarm lifecycle: the only writer of alarms, their transitions and the outbox.

Engine signals raise, upgrade and clear alarms (``_signals``); people acknowledge, dispatch,
clear and close them (``_handling``). Every change commits together with a transition row
(who, when) and an outbox row (``_outbox``), so notifications and subscriptions see exactly
the changes that happened — no more, no fewer. Alarms of one zone raised together form an
incident (``_incidents``); ``_reading`` holds the console's lists and figures.
"""

from __future__ import annotations

from backend.alarms.service._handling import (
    MAX_NOTE,
    acknowledge_alarm,
    clear_alarm,
    close_alarm,
    dispatch_alarm,
    get_alarm,
)
from backend.alarms.service._incidents import INCIDENT_WINDOW, list_incidents
from backend.alarms.service._outbox import (
    ENGINE_ACTOR,
    add_outbox_event,
    alarm_payload,
    announce,
    stop_paging,
)
from backend.alarms.service._reading import (
    AlarmStats,
    alarm_division,
    alarm_stats,
    list_alarms,
    overdue,
)
from backend.alarms.service._signals import (
    FLAP_RAISES,
    FLAP_WINDOW,
    REMIND_EVERY_S,
    SignalContext,
    apply_signal,
    paging_intervals,
)

__all__ = [
    "ENGINE_ACTOR",
    "FLAP_RAISES",
    "FLAP_WINDOW",
    "INCIDENT_WINDOW",
    "MAX_NOTE",
    "REMIND_EVERY_S",
    "AlarmStats",
    "SignalContext",
    "acknowledge_alarm",
    "add_outbox_event",
    "alarm_division",
    "alarm_payload",
    "alarm_stats",
    "announce",
    "apply_signal",
    "clear_alarm",
    "close_alarm",
    "dispatch_alarm",
    "get_alarm",
    "list_alarms",
    "list_incidents",
    "overdue",
    "paging_intervals",
    "stop_paging",
]
