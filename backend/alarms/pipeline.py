"""The alarm loop inside the server: ingest → engine → alarms → outbox → subscribers.

``AlarmPipeline`` is an ingest subscriber: each durable batch is evaluated inline by the rule
engine (a few comparisons per reading), and the resulting signals are queued for a writer
task that applies them through the alarm service, one scoped transaction per tenant, and then
wakes the relay. Rules come from the database; sensors that have none get their kind's
defaults from the indicator library. Open alarms are restored into the engine at start, so a
restart neither loses nor doubles an alarm.

The engine learns of alarms cleared elsewhere (a person on any server, the CLI, a job, another
server's engine) from the committed outbox, which the pipeline's ``OutboxFeed`` reads in every
process: an alarm the engine still holds is forgotten, so a condition that persists raises a
new alarm on the next reading instead of being counted as the cleared one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.alarms import escalation, library
from backend.alarms.engine import RuleEngine, Signal
from backend.alarms.models import Alarm, AlarmRule
from backend.alarms.permits import PERMITS_COUNTER, WorkPermit
from backend.alarms.relay import Listener, OutboxFeed
from backend.alarms.rules import Level, RuleKind, RuleSpec, Severity
from backend.alarms.service import SignalContext, apply_signal
from backend.core import counters
from backend.core.clock import WALL_CLOCK, Clock, now_ms
from backend.runtime import Runtime
from backend.telemetry.models import Device, Sensor
from backend.telemetry.records import EventRow
from backend.telemetry.registry import DeviceInfo
from tenants.models import Site, Tenant, Zone
from tenants.scope import Scope, scoped_session, unscoped_session

log = logging.getLogger("anjian.alarms")

Pending = dict[uuid.UUID, list[tuple[Signal, SignalContext]]]  # by tenant, in queue order


class AlarmPipeline:
    def __init__(
        self,
        runtime: Runtime,
        relay_wakeup: asyncio.Event | None = None,
        *,
        listeners: list[Listener] | None = None,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        self.runtime = runtime
        self.engine = RuleEngine()
        # What the timers read (stale/offline ticks, escalation, permit expiry); a report
        # running simulated days passes its own.
        self.clock = clock
        self.relay_wakeup = relay_wakeup or asyncio.Event()
        # Committed alarm changes of every process: this engine's, then e.g. subscriptions.
        self.outbox = OutboxFeed(runtime.sessions, [self._changed, *(listeners or [])])
        # The open alarm this engine counts for each rule × sensor (sensor None: a device or
        # zone rule), so a clear read from the outbox forgets exactly that alarm and not a
        # newer one raised since by the same rule.
        self._holding: dict[tuple[uuid.UUID, uuid.UUID | None], uuid.UUID] = {}
        self._queue: asyncio.Queue[tuple[Signal, SignalContext]] = asyncio.Queue()
        self._where: dict[uuid.UUID, SignalContext] = {}  # sensor → where it lives
        self._device_where: dict[uuid.UUID, SignalContext] = {}
        self._zone_rule_where: dict[uuid.UUID, SignalContext] = {}  # zone rule → its zone
        self._tasks: list[asyncio.Task[None]] = []
        self._version = -1
        self._permits_version = -1
        self._loaded_sensors: set[uuid.UUID] = set()
        self._loaded_zones: set[uuid.UUID] = set()
        self._loaded = False

    # -- ingest subscriber (runs inline on the request path: keep it cheap) ------------------

    def readings_accepted(
        self, device: DeviceInfo, sensor_ids: list[bytes], ts_ms: list[int], values: list[float]
    ) -> None:
        # Raw id bytes go straight in: the engine keys on them, no UUID per reading.
        for signal in self.engine.on_readings(sensor_ids, ts_ms, values):
            self._enqueue(signal, device)
        if ts_ms:
            self.heartbeat_accepted(device, max(ts_ms))

    def heartbeat_accepted(self, device: DeviceInfo, ts_ms: int) -> None:
        for signal in self.engine.device_seen(device.id, ts_ms):
            self._enqueue(signal, device)

    def events_accepted(self, device: DeviceInfo, events: list[EventRow]) -> None:
        if events:
            self.heartbeat_accepted(device, max(e.ts_ms for e in events))
        for event in events:
            sensor = None if event.sensor_id is None else uuid.UUID(bytes=event.sensor_id)
            attributes = json.loads(event.attributes)
            for signal in self.engine.on_event(
                device.id, sensor, event.type, event.ts_ms, attributes
            ):
                self._enqueue(signal, device)

    def _enqueue(self, signal: Signal, device: DeviceInfo | None) -> None:
        where = self._where.get(signal.sensor_id) if signal.sensor_id else None
        if where is None and signal.sensor_id is None and signal.device_id is None:
            where = self._zone_rule_where.get(signal.rule_id)  # a zone-level rule
        if where is None and signal.device_id is not None:
            where = self._device_where.get(signal.device_id)
        if where is None and device is not None:
            where = SignalContext(device.tenant_id, device.site_id, device.id, None)
        if where is None:
            log.warning("signal for an unknown sensor %s dropped", signal.sensor_id)
            return
        self._queue.put_nowait((signal, where))

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
        self._tasks = [
            asyncio.create_task(self._write_loop(), name="alarm-writer"),
            asyncio.create_task(self._watch_loop(), name="alarm-rules-watch"),
        ]
        if timers:
            self._tasks += [
                asyncio.create_task(self._tick_loop(), name="alarm-clock"),
                asyncio.create_task(self._escalation_loop(), name="alarm-escalation"),
            ]

    async def stop(self) -> None:
        await self.drain()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.outbox.stop()

    async def drain(self) -> None:
        """Wait until every queued signal is written (tests, shutdown)."""
        await self._queue.join()

    # -- rules -------------------------------------------------------------------------------

    async def reload(self) -> None:
        """Give sensors without rules their defaults, then load every rule into the engine."""
        # Rules are kept for every tenant here: the engine is a system process.
        try:
            async with unscoped_session(self.runtime.sessions) as session, session.begin():
                self._version = await counters.read(session, counters.REGISTRY)
                await self._ensure_defaults(session)
        except IntegrityError:  # another server gave these sensors their defaults first
            log.info("default alarm rules were created concurrently; loading theirs")
        async with unscoped_session(self.runtime.sessions) as session:
            rows = (
                await session.execute(
                    select(
                        AlarmRule,
                        Sensor.tenant_id,
                        Sensor.site_id,
                        Sensor.device_id,
                        Sensor.zone_id,
                    )
                    .join(Sensor, Sensor.id == AlarmRule.sensor_id)
                    .where(AlarmRule.enabled.is_(True))
                )
            ).all()
            device_rules = (
                (
                    await session.execute(
                        select(AlarmRule).where(
                            AlarmRule.enabled.is_(True),
                            AlarmRule.sensor_id.is_(None),
                            AlarmRule.device_id.is_not(None),
                        )
                    )
                )
                .scalars()
                .all()
            )
            zone_rules = (
                (
                    await session.execute(
                        select(AlarmRule).where(
                            AlarmRule.enabled.is_(True), AlarmRule.zone_id.is_not(None)
                        )
                    )
                )
                .scalars()
                .all()
            )
            zone_sensors = (
                await session.execute(
                    select(Sensor.zone_id, Sensor.id, Sensor.kind).where(
                        Sensor.zone_id.in_({r.zone_id for r in zone_rules})
                    )
                )
            ).all()
            zones = (await session.execute(select(Zone.name, Zone.kind))).all()
        by_sensor: dict[uuid.UUID, list[tuple[uuid.UUID, RuleSpec]]] = defaultdict(list)
        for rule, tenant_id, site_id, device_id, zone_id in rows:
            by_sensor[rule.sensor_id].append((rule.id, RuleSpec.from_json(rule.definition)))
            self._where[rule.sensor_id] = SignalContext(tenant_id, site_id, device_id, zone_id)
        for sensor_id in self._loaded_sensors - by_sensor.keys():
            self.engine.remove_sensor(sensor_id)  # its rules were disabled or deleted
        for sensor_id, rules in by_sensor.items():
            try:
                self.engine.set_rules(sensor_id, rules)
            except ValueError as exc:  # one broken rule must not stop every other sensor's
                log.error("alarm rules of sensor %s not loaded: %s", sensor_id, exc)
        self._loaded_sensors = set(by_sensor)
        by_device: dict[uuid.UUID, list[tuple[uuid.UUID, RuleSpec]]] = defaultdict(list)
        for rule in device_rules:
            by_device[rule.device_id].append((rule.id, RuleSpec.from_json(rule.definition)))
            self._device_where[rule.device_id] = SignalContext(
                rule.tenant_id, rule.site_id, rule.device_id, None
            )
        for device_id, rules in by_device.items():
            try:
                self.engine.set_event_rules(device_id, rules)
            except ValueError as exc:
                log.error("alarm rules of device %s not loaded: %s", device_id, exc)
        by_zone: dict[uuid.UUID, list[tuple[uuid.UUID, RuleSpec]]] = defaultdict(list)
        for rule in zone_rules:
            by_zone[rule.zone_id].append((rule.id, RuleSpec.from_json(rule.definition)))
            self._zone_rule_where[rule.id] = SignalContext(
                rule.tenant_id, rule.site_id, None, rule.zone_id
            )
        sensors_of: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = defaultdict(list)
        for zone_id, sensor_id, kind in zone_sensors:
            sensors_of[zone_id].append((sensor_id, kind))
        for zone_id in self._loaded_zones - by_zone.keys():
            self.engine.set_zone_rules(zone_id, [], [])
        for zone_id, rules in by_zone.items():
            try:
                self.engine.set_zone_rules(zone_id, rules, sensors_of[zone_id])
            except ValueError as exc:
                log.error("alarm rules of zone %s not loaded: %s", zone_id, exc)
        self._loaded_zones = set(by_zone)
        await self._load_permits()
        # Presence rules need to know which zones are confined spaces; events name zones.
        self.engine.set_zone_kinds({name: kind.value for name, kind in zones})

    async def _ensure_defaults(self, session: Any) -> None:
        missing = (
            await session.execute(
                select(Sensor, Tenant.industry, Zone.kind, Site.major_hazard_grade)
                .join(Tenant, Tenant.id == Sensor.tenant_id)
                .join(Site, Site.id == Sensor.site_id)
                .outerjoin(Zone, Zone.id == Sensor.zone_id)
                .where(~select(AlarmRule.id).where(AlarmRule.sensor_id == Sensor.id).exists())
            )
        ).all()
        for sensor, industry, zone_kind, grade in missing:
            specs = library.default_rules(
                industry,
                sensor.kind,
                gas=sensor.gas,
                zone_kind=None if zone_kind is None else zone_kind.value,
            )
            for slot, spec in enumerate(specs):
                if spec.kind is RuleKind.EVENT:
                    continue
                if spec.kind is RuleKind.STALE and grade is not None:
                    spec = _raised_from_blue(spec)
                session.add(
                    AlarmRule(
                        tenant_id=sensor.tenant_id,
                        site_id=sensor.site_id,
                        sensor_id=sensor.id,
                        device_id=sensor.device_id,
                        kind=spec.kind.value,
                        definition=spec.as_json(),
                        source=_library_source(industry),
                        default_slot=f"{spec.kind.value}:{slot}",
                    )
                )
        await self._ensure_device_defaults(session)
        await self._ensure_zone_defaults(session)
        if missing:
            log.info("gave %d sensor(s) their default alarm rules", len(missing))

    async def _ensure_device_defaults(self, session: Any) -> None:
        """Every device: an event rule per event type and its offline rule."""
        specs = {f"event:{t}": spec for t, spec in library.event_rules().items()}
        specs.update({f"offline:{name}": spec for name, spec in library.device_rules().items()})
        # Only devices short of a default are read: at steady state this returns nothing.
        own_defaults = (
            select(func.count())
            .where(
                AlarmRule.device_id == Device.id,
                AlarmRule.sensor_id.is_(None),
                AlarmRule.default_slot.in_(specs),
            )
            .scalar_subquery()
        )
        devices = (
            await session.execute(
                select(
                    Device.id,
                    Device.tenant_id,
                    Device.site_id,
                    Tenant.industry,
                    Site.major_hazard_grade,
                )
                .join(Tenant, Tenant.id == Device.tenant_id)
                .join(Site, Site.id == Device.site_id)
                .where(own_defaults < len(specs))
            )
        ).all()
        have: dict[uuid.UUID, set[str]] = defaultdict(set)
        for device_id, slot in (
            await session.execute(
                select(AlarmRule.device_id, AlarmRule.default_slot).where(
                    AlarmRule.device_id.in_([d[0] for d in devices]),
                    AlarmRule.sensor_id.is_(None),
                    AlarmRule.default_slot.is_not(None),
                )
            )
        ).all():
            have[device_id].add(slot)
        for device_id, tenant_id, site_id, industry, grade in devices:
            for slot, spec in specs.items():
                if slot in have[device_id]:
                    continue
                if spec.kind is RuleKind.OFFLINE and grade is not None:
                    spec = _raised_from_blue(spec)
                session.add(
                    AlarmRule(
                        tenant_id=tenant_id,
                        site_id=site_id,
                        device_id=device_id,
                        kind=spec.kind.value,
                        definition=spec.as_json(),
                        source=_library_source(industry),
                        default_slot=slot,
                    )
                )

    async def _ensure_zone_defaults(self, session: Any) -> None:
        """A zone gets a composite rule once it has sensors of every kind the rule names."""
        specs = library.zone_rules()
        kinds_in: dict[uuid.UUID, set[str]] = defaultdict(set)
        for zone_id, kind in (
            await session.execute(
                select(Sensor.zone_id, Sensor.kind).where(Sensor.zone_id.is_not(None)).distinct()
            )
        ).all():
            kinds_in[zone_id].add(kind)
        have = set(
            (
                await session.execute(
                    select(AlarmRule.zone_id, AlarmRule.default_slot).where(
                        AlarmRule.zone_id.is_not(None), AlarmRule.default_slot.is_not(None)
                    )
                )
            ).all()
        )
        zones = (
            await session.execute(
                select(Zone.id, Zone.tenant_id, Zone.site_id, Tenant.industry)
                .join(Tenant, Tenant.id == Zone.tenant_id)
                .where(Zone.id.in_(kinds_in.keys()))
            )
        ).all()
        for zone_id, tenant_id, site_id, industry in zones:
            for name, spec in specs.items():
                slot = f"composite:{name}"
                needed = {c["sensor_kind"] for c in spec.params["conditions"] if "sensor_kind" in c}
                if (zone_id, slot) in have or not needed <= kinds_in[zone_id]:
                    continue
                session.add(
                    AlarmRule(
                        tenant_id=tenant_id,
                        site_id=site_id,
                        zone_id=zone_id,
                        kind=spec.kind.value,
                        definition=spec.as_json(),
                        source=_library_source(industry),
                        default_slot=slot,
                    )
                )

    async def _load_permits(self) -> None:
        """Open (and future) work permits of the zones with composite rules."""
        if not self._loaded_zones:
            return
        async with unscoped_session(self.runtime.sessions) as session:
            self._permits_version = await counters.read(session, PERMITS_COUNTER)
            rows = (
                await session.execute(
                    select(
                        WorkPermit.zone_id,
                        WorkPermit.kind,
                        WorkPermit.opened_at,
                        WorkPermit.expires_at,
                        WorkPermit.closed_at,
                    ).where(
                        WorkPermit.zone_id.in_(self._loaded_zones),
                        WorkPermit.expires_at > self.clock.now(),
                    )
                )
            ).all()
        by_zone: dict[uuid.UUID, list[tuple[str, int, int]]] = defaultdict(list)
        for zone_id, kind, opened, expires, closed in rows:
            until = expires if closed is None else min(expires, closed)
            by_zone[zone_id].append((kind.value, _ms(opened), _ms(until)))
        now = now_ms(self.clock)
        for zone_id in self._loaded_zones:
            for signal in self.engine.set_permits(zone_id, by_zone.get(zone_id, []), now):
                self._enqueue(signal, None)

    async def _restore_open_alarms(self) -> None:
        async with unscoped_session(self.runtime.sessions) as session:
            rows = (
                await session.execute(
                    select(
                        Alarm.id, Alarm.rule_id, Alarm.sensor_id, Alarm.device_id, Alarm.level
                    ).where(Alarm.cleared_at.is_(None))
                )
            ).all()
        for alarm_id, rule_id, sensor_id, device_id, level in rows:
            self._holding[(rule_id, sensor_id)] = alarm_id
            # Device rules are found by device, zone rules by rule id alone.
            self.engine.restore(
                rule_id, sensor_id, level or "", device_id=None if sensor_id else device_id
            )

    async def _load(self) -> None:
        if not self.outbox.positioned:
            # Before the open alarms are read: a clear committed after this is read from the
            # outbox, one committed before is already absent from the alarms restored.
            await self.outbox.position_at_end()
        await self.reload()
        await self._restore_open_alarms()
        self._loaded = True

    async def _watch_loop(self) -> None:
        """New devices and sensors (the registry counter moved): load their rules."""
        while True:
            await asyncio.sleep(1.0)
            try:
                if not self._loaded:
                    await self._load()
                    continue
                async with unscoped_session(self.runtime.sessions) as session:
                    version = await counters.read(session, counters.REGISTRY)
                    permits = await counters.read(session, PERMITS_COUNTER)
                if version != self._version:
                    await self.reload()
                elif permits != self._permits_version:
                    await self._load_permits()
            except Exception:
                log.exception("reloading alarm rules failed; will retry")

    def _changed(self, event: dict[str, Any]) -> None:
        """A committed alarm change, read from the outbox (whoever made it). A clear of the
        alarm this engine still counts as open is forgotten: a person (on any server, or the
        CLI, or a job) cleared it, or another server's engine did. If the condition still
        holds, the next reading raises a new alarm. The engine's own clears were forgotten when
        they were written, so they find nothing held here."""
        if event.get("kind") != "CLEARED":
            return
        alarm = event["alarm"]
        sensor_id = None if alarm["sensor_id"] is None else uuid.UUID(alarm["sensor_id"])
        key = (uuid.UUID(alarm["rule_id"]), sensor_id)
        if self._holding.get(key) != uuid.UUID(alarm["id"]):
            return
        del self._holding[key]
        device_id = None if alarm["device_id"] is None else uuid.UUID(alarm["device_id"])
        self.engine.release(key[0], sensor_id, device_id=device_id)

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
        """Time-driven rules (stale data, offline devices, presence timeouts) at the clock's
        now; their signals are queued for the writer."""
        for signal in self.engine.tick(now_ms(self.clock)):
            self._enqueue(signal, None)

    async def run_escalations(self) -> int:
        """Escalate and remind the alarms due at the clock's now; returns the steps taken."""
        steps = await escalation.run_due(self.runtime.sessions, self.clock.now())
        if steps:
            self._wake()
        return steps

    async def _tick_loop(self, interval: float = 5.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                self.run_timers()
            except Exception:
                log.exception("alarm clock tick failed")

    async def _escalation_loop(self, interval: float = 1.0) -> None:
        """Unacknowledged alarms escalate and remind when their deadlines (kept in the rows)
        fall due; see backend/alarms/escalation.py."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.run_escalations()
            except Exception:
                log.exception("alarm escalation failed; will retry")

    # -- writing -----------------------------------------------------------------------------

    def _wake(self) -> None:
        """Changes were committed: the relay delivers them, the feed shows them."""
        self.relay_wakeup.set()
        self.outbox.wakeup.set()

    async def _write_loop(self) -> None:
        """Signals are written per tenant, each tenant's in one transaction; a tenant whose
        write failed is retried alone, with the signals queued since appended in order, while
        the tenants that committed are done: applying a signal twice would count a repeat twice
        or announce an upgrade twice. One tenant's failure neither re-applies nor holds up
        another's alarms."""
        pending: Pending = defaultdict(list)
        backoff = 0.2
        while True:
            if not pending:
                self._take(pending, await self._queue.get())
            while not self._queue.empty():
                self._take(pending, self._queue.get_nowait())
            failed = committed = 0
            for tenant_id in list(pending):
                items = pending[tenant_id]
                try:
                    await self._apply(tenant_id, items)
                except Exception:
                    failed += len(items)
                    log.exception(
                        "writing %d alarm signal(s) of tenant %s failed; retrying in %.1f s",
                        len(items),
                        tenant_id,
                        backoff,
                    )
                    continue
                del pending[tenant_id]
                committed += len(items)
                for _ in items:
                    self._queue.task_done()
            if committed:
                self._wake()
            if failed:
                # The engine already counts these alarms: they must reach the database.
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = 0.2

    @staticmethod
    def _take(pending: Pending, item: tuple[Signal, SignalContext]) -> None:
        pending[item[1].tenant_id].append(item)

    async def _apply(self, tenant_id: uuid.UUID, items: list[tuple[Signal, SignalContext]]) -> None:
        """One tenant's signals in one transaction: all of them commit, or none."""
        scope = Scope.for_tenant(tenant_id)
        try:
            async with (
                scoped_session(self.runtime.sessions, scope) as session,
                session.begin(),
            ):
                for signal, where in items:
                    self._hold(signal, await apply_signal(session, signal, where))
        except IntegrityError:
            # Their sensor or site is gone (deleted, or its tenant erased) before the next
            # rules reload: no retry can store them, and retrying would stall every alarm.
            log.error("dropped %d alarm signal(s) of vanished objects", len(items))

    def _hold(self, signal: Signal, alarm: Alarm | None) -> None:
        """Which alarm the engine counts for the signal's rule × sensor. Noted before the
        commit, so the feed, which can read the rows the moment they commit, never finds the
        engine's own clear still held; a failed commit is retried, and notes its result again."""
        key = (signal.rule_id, signal.sensor_id)
        if signal.kind == "clear":
            self._holding.pop(key, None)  # the engine released it itself
        elif alarm is not None and alarm.cleared_at is None:
            self._holding[key] = alarm.id
        # Otherwise the alarm was cleared meanwhile by someone else: the outbox says so, and
        # the engine forgets it when the feed reads that clear.


def _library_source(industry: Any) -> str:
    """Where a default rule came from: ``library:<industry>@<file versions>``."""
    return f"library:{industry.value}@{library.library_version(industry)}"


def _ms(at: Any) -> int:
    return int(at.timestamp() * 1000)


def _raised_from_blue(spec: RuleSpec) -> RuleSpec:
    """Data-quality alarms are BLUE unless the site is a major hazard source (DESIGN.md):
    there a sensor gone quiet is itself a hazard, so its stale rule raises YELLOW."""
    levels = tuple(
        Level(lv.name, Severity.YELLOW, lv.direction, lv.setpoint, lv.clear_at)
        if lv.severity is Severity.BLUE
        else lv
        for lv in spec.levels
    )
    params = dict(spec.params)
    if params.get("severity") == Severity.BLUE.value:
        params["severity"] = Severity.YELLOW.value
    return dataclasses.replace(spec, levels=levels, params=params)
