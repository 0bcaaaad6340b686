"""The rule engine: readings and events in, signals out; pure, in memory, no I/O.

It runs inline on the ingest path, so a sensor without rules costs one dict miss and a
threshold evaluation a handful of comparisons. Everything is timed by reading and event
timestamps, except ``tick(now_ms)`` (stale data, presence timeouts, event auto-clear). The
alarm service turns each ``Signal`` into an alarm transition: ``raise`` opens one per rule ×
sensor, ``upgrade`` is SEVERITY_CHANGED in place, ``clear`` clears it.

State per rule: a threshold remembers its active level, the levels reached during the open
episode (it clears only once the value is past the ``clear_at`` of all of them: back out of
the deadband of the lowest one) and when each level started to be reached (on-delay). After a
restart ``restore()`` marks the alarms still open in the database as active, so they neither
vanish nor double; ``release()`` forgets one that people cleared by hand.

The parts, read in this order: ``_state`` (signals and what every rule shares),
``_threshold`` (levels with on-delay and hysteresis; rate of change), ``_stale`` (silence,
driven by tick), ``_events`` (event types and the presence timeout), ``_composite`` (zone
rules), ``_owner`` (a sensor's or device's rules, split by what drives them) and ``_engine``
(the façade, restore and release included).
"""

from backend.alarms.engine._engine import RuleEngine
from backend.alarms.engine._events import PRESENCE, ZONE_ENTER, ZONE_EXIT
from backend.alarms.engine._state import EngineStats, RuleSpecError, Signal, SignalKind

__all__ = [
    "PRESENCE",
    "ZONE_ENTER",
    "ZONE_EXIT",
    "EngineStats",
    "RuleEngine",
    "RuleSpecError",
    "Signal",
    "SignalKind",
]
