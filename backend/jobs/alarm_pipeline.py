"""The alarm loop inside the server: ingest → engine → alarms → outbox → subscribers.

``AlarmPipeline`` assembles it: the evaluator (``backend/alarms/pipeline``) is the ingest
subscriber whose signals the writer applies through the alarm service, one scoped transaction
per tenant, before waking the relay; the rules watch reloads the rules when the registry
moves, and sensors that have none get their kind's defaults from the indicator library; the
engine's tick and the escalation job read the clock they are given. Open alarms are restored
into the engine at start, so a restart neither loses nor doubles an alarm.

The engine learns of alarms cleared elsewhere (a person on any server, the CLI, a job, another
server's engine) from the committed outbox, which the pipeline's ``OutboxFeed`` reads in every
process: an alarm the engine still holds is forgotten, so a condition that persists raises a
new alarm on the next reading instead of being counted as the cleared one.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.alarms.engine import RuleEngine, Signal
from backend.alarms.pipeline import AlarmEvaluator
from backend.alarms.service import SignalContext
from backend.core.clock import WALL_CLOCK, Clock
from backend.jobs.alarm_ticks import EngineTicks
from backend.jobs.alarm_writer import AlarmWriter
from backend.jobs.escalation import Escalations
from backend.jobs.outbox_feed import Listener, OutboxFeed
from backend.jobs.periodic import Periodic
from backend.jobs.rule_watch import RuleWatch
from backend.telemetry.records import EventRow
from backend.telemetry.registry import DeviceInfo

log = logging.getLogger("anjian.alarms")


class AlarmPipeline:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        relay_wakeup: asyncio.Event | None = None,
        *,
        listeners: list[Listener] | None = None,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        self.sessions = sessions
        # What the timers read (stale/offline ticks, escalation, permit expiry); a report
        # running simulated days passes its own, a served test an adjustable one.
        self.clock = clock
        self.relay_wakeup = relay_wakeup or asyncio.Event()
        self.evaluator = AlarmEvaluator(sessions, self._queue_signal)
        self.writer = AlarmWriter(sessions, hold=self.evaluator.hold, committed=self._wake)
        # Committed alarm changes of every process: this engine's, then e.g. subscriptions.
        self.outbox = OutboxFeed(sessions, [self.evaluator.released, *(listeners or [])])
        self.ticks = EngineTicks(self.evaluator, clock)
        self.escalations = Escalations(sessions, clock, stepped=self._wake)
        self.watch = RuleWatch(
            sessions, self.evaluator, clock, loaded=lambda: self._loaded, load=self._load
        )
        self._loops: list[Periodic] = []
        self._loaded = False

    @property
    def engine(self) -> RuleEngine:
        return self.evaluator.engine

    # -- ingest subscriber: the evaluator's, inline on the request path ----------------------

    def readings_accepted(
        self, device: DeviceInfo, sensor_ids: list[bytes], ts_ms: list[int], values: list[float]
    ) -> None:
        self.evaluator.readings_accepted(device, sensor_ids, ts_ms, values)

    def heartbeat_accepted(self, device: DeviceInfo, ts_ms: int) -> None:
        self.evaluator.heartbeat_accepted(device, ts_ms)

    def events_accepted(self, device: DeviceInfo, events: list[EventRow]) -> None:
        self.evaluator.events_accepted(device, events)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, *, timers: bool = True) -> None:
        """Load the rules and start the writer and watchers; with ``timers=False`` the timer
        loops (on wall-time intervals) do not run, and whoever moves the clock calls
        ``run_timers`` and ``run_escalations`` itself (``anjian alarm-report``)."""
        try:
            await self._load()
        except Exception:  # the database may be down at start-up: /readyz says so, retry
            log.exception("loading alarm rules failed; retrying in the background")
        self.outbox.start()
        self.writer.start()
        self._loops = [self.watch.loop]
        if timers:
            self._loops += [self.ticks.loop, self.escalations.loop]
        for loop in self._loops:
            loop.start()

    async def stop(self) -> None:
        await self.drain()
        await self.writer.stop()
        for loop in self._loops:
            await loop.stop()
        await self.outbox.stop()

    async def drain(self) -> None:
        """Wait until every queued signal is written (tests, shutdown)."""
        await self.writer.drain()

    async def reload(self) -> None:
        """Give sensors without rules their defaults, then load every rule into the engine."""
        await self.evaluator.reload(self.clock.now())

    async def _load(self) -> None:
        if not self.outbox.positioned:
            # Before the open alarms are read: a clear committed after this is read from the
            # outbox, one committed before is already absent from the alarms restored.
            await self.outbox.position_at_end()
        await self.reload()
        await self.evaluator.restore_open_alarms()
        self._loaded = True

    # -- after a change ----------------------------------------------------------------------

    async def committed(self) -> None:
        """This process committed alarm changes (a person's action): relay them now, and read
        them from the outbox before answering, so this server's subscribers and engine know of
        them by the time the person sees the result."""
        self.relay_wakeup.set()
        try:
            await self.outbox.catch_up()
        except Exception:  # the change is committed; the feed's own loop reads it on its next turn
            log.warning("reading the outbox after a change failed; will retry", exc_info=True)

    def run_timers(self) -> None:
        """Time-driven rules at the clock's now; their signals are queued for the writer."""
        self.ticks.run()

    async def run_escalations(self) -> int:
        """Escalate and remind the alarms due at the clock's now; returns the steps taken."""
        return await self.escalations.run()

    def _queue_signal(self, signal: Signal, where: SignalContext) -> None:
        self.writer.put(signal, where)

    def _wake(self) -> None:
        """Changes were committed: the relay delivers them, the feed shows them."""
        self.relay_wakeup.set()
        self.outbox.wakeup.set()
