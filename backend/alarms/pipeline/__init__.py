"""The alarm domain's part of the loop ingest → engine → alarms → outbox → subscribers.

What lives here is domain logic with no loop of its own: ``AlarmEvaluator`` (the rule engine
as an ingest subscriber, the rules and permits it loads, the open alarms it restores and the
clears it forgets) and the default rules sensors, devices and zones get from the indicator
library. The loops that drive it — the writer that applies its signals, the rules watch, the
engine's tick, escalation, the outbox feed and relay — are jobs, assembled in
``backend/jobs/alarm_pipeline.py``.
"""

from backend.alarms.pipeline._defaults import ensure_default_rules
from backend.alarms.pipeline._evaluator import AlarmEvaluator, Emit
from backend.alarms.pipeline._loading import unscoped_change_counters

__all__ = ["AlarmEvaluator", "Emit", "ensure_default_rules", "unscoped_change_counters"]
