"""The alarm loop inside the server: ingest → engine → alarms → outbox → subscribers.

``AlarmPipeline`` is an ingest subscriber: each durable batch is evaluated inline by the rule
engine (a few comparisons per reading), and the resulting signals are queued for a writer
task that applies them through the alarm service, one scoped transaction per tenant, and then
wakes the relay. Rules come from the database; sensors that have none get their kind's
defaults from the indicator library. Open alarms are restored into the engine at start, so a
restart neither loses nor doubles an alarm.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.alarms import library
from backend.alarms.engine import RuleEngine, Signal
from backend.alarms.models import Alarm, AlarmRule
from backend.alarms.rules import Level, RuleKind, RuleSpec, Severity
from backend.alarms.service import SignalContext, apply_signal
from backend.core import counters
from backend.runtime import Runtime
from backend.telemetry.models import Device, Sensor
from backend.telemetry.records import EventRow
from backend.telemetry.registry import DeviceInfo
from tenants.models import Site, Tenant, Zone
from tenants.scope import Scope, scoped_session, unscoped_session

log = logging.getLogger("anjian.alarms")


class AlarmPipeline:
    def __init__(self, runtime: Runtime, relay_wakeup: asyncio.Event | None = None) -> None:
        self.runtime = runtime
        self.engine = RuleEngine()
        self.relay_wakeup = relay_wakeup or asyncio.Event()
        self._queue: asyncio.Queue[tuple[Signal, SignalContext]] = asyncio.Queue()
        self._where: dict[uuid.UUID, SignalContext] = {}  # sensor → where it lives
        self._device_where: dict[uuid.UUID, SignalContext] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._version = -1
        self._loaded_sensors: set[uuid.UUID] = set()
        self._loaded = False

    # -- ingest subscriber (runs inline on the request path: keep it cheap) ------------------

    def readings_accepted(
        self, device: DeviceInfo, sensor_ids: list[bytes], ts_ms: list[int], values: list[float]
    ) -> None:
        # Raw id bytes go straight in: the engine keys on them, no UUID per reading.
        for signal in self.engine.on_readings(sensor_ids, ts_ms, values):
            self._enqueue(signal, device)

    def events_accepted(self, device: DeviceInfo, events: list[EventRow]) -> None:
        for event in events:
            sensor = None if event.sensor_id is None else uuid.UUID(bytes=event.sensor_id)
            attributes = json.loads(event.attributes)
            for signal in self.engine.on_event(
                device.id, sensor, event.type, event.ts_ms, attributes
            ):
                self._enqueue(signal, device)

    def _enqueue(self, signal: Signal, device: DeviceInfo | None) -> None:
        where = self._where.get(signal.sensor_id) if signal.sensor_id else None
        if where is None and signal.device_id is not None:
            where = self._device_where.get(signal.device_id)
        if where is None and device is not None:
            where = SignalContext(device.tenant_id, device.site_id, device.id, None)
        if where is None:
            log.warning("signal for an unknown sensor %s dropped", signal.sensor_id)
            return
        self._queue.put_nowait((signal, where))

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._load()
        except Exception:  # the database may be down at start-up: /readyz says so, retry
            log.exception("loading alarm rules failed; retrying in the background")
        self._tasks = [
            asyncio.create_task(self._write_loop(), name="alarm-writer"),
            asyncio.create_task(self._watch_loop(), name="alarm-rules-watch"),
            asyncio.create_task(self._tick_loop(), name="alarm-clock"),
        ]

    async def stop(self) -> None:
        await self.drain()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

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
            zones = (await session.execute(select(Zone.name, Zone.kind))).all()
        by_sensor: dict[uuid.UUID, list[tuple[uuid.UUID, RuleSpec]]] = defaultdict(list)
        for rule, tenant_id, site_id, device_id, zone_id in rows:
            by_sensor[rule.sensor_id].append((rule.id, RuleSpec.from_json(rule.definition)))
            self._where[rule.sensor_id] = SignalContext(tenant_id, site_id, device_id, zone_id)
        for sensor_id in self._loaded_sensors - by_sensor.keys():
            self.engine.remove_sensor(sensor_id)  # its rules were disabled or deleted
        for sensor_id, rules in by_sensor.items():
            self.engine.set_rules(sensor_id, rules)
        self._loaded_sensors = set(by_sensor)
        by_device: dict[uuid.UUID, list[tuple[uuid.UUID, RuleSpec]]] = defaultdict(list)
        for rule in device_rules:
            by_device[rule.device_id].append((rule.id, RuleSpec.from_json(rule.definition)))
            self._device_where[rule.device_id] = SignalContext(
                rule.tenant_id, rule.site_id, rule.device_id, None
            )
        for device_id, rules in by_device.items():
            self.engine.set_event_rules(device_id, rules)
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
                        source=f"library:{industry.value}@{library.library_version(industry)}",
                        default_slot=f"{spec.kind.value}:{slot}",
                    )
                )
        devices = (
            await session.execute(
                select(Device.id, Device.tenant_id, Device.site_id, Tenant.industry)
                .join(Tenant, Tenant.id == Device.tenant_id)
                .where(
                    ~select(AlarmRule.id)
                    .where(AlarmRule.device_id == Device.id, AlarmRule.sensor_id.is_(None))
                    .exists()
                )
            )
        ).all()
        event_specs = library.event_rules()
        for device_id, tenant_id, site_id, industry in devices:
            for event_type, spec in event_specs.items():
                session.add(
                    AlarmRule(
                        tenant_id=tenant_id,
                        site_id=site_id,
                        device_id=device_id,
                        kind=spec.kind.value,
                        definition=spec.as_json(),
                        source=f"library:{industry.value}@{library.library_version(industry)}",
                        default_slot=f"event:{event_type}",
                    )
                )
        if missing:
            log.info("gave %d sensor(s) their default alarm rules", len(missing))

    async def _restore_open_alarms(self) -> None:
        async with unscoped_session(self.runtime.sessions) as session:
            rows = (
                await session.execute(
                    select(Alarm.rule_id, Alarm.sensor_id, Alarm.level).where(
                        Alarm.cleared_at.is_(None), Alarm.sensor_id.is_not(None)
                    )
                )
            ).all()
        for rule_id, sensor_id, level in rows:
            self.engine.restore(rule_id, sensor_id, level or "")

    async def _load(self) -> None:
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
                if version != self._version:
                    await self.reload()
            except Exception:
                log.exception("reloading alarm rules failed; will retry")

    def forget(
        self, rule_id: uuid.UUID, sensor_id: uuid.UUID | None, device_id: uuid.UUID | None
    ) -> None:
        """A person cleared this alarm: if the condition still holds, the next reading raises
        a new one, so the engine must not go on counting the old one as active."""
        self.engine.release(rule_id, sensor_id, device_id=device_id)

    async def _tick_loop(self, interval: float = 5.0) -> None:
        """Time-driven rules (stale data, presence timeouts) run on the wall clock."""
        while True:
            await asyncio.sleep(interval)
            try:
                for signal in self.engine.tick(int(time.time() * 1000)):
                    self._enqueue(signal, None)
            except Exception:
                log.exception("alarm clock tick failed")

    # -- writing -----------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            backoff = 0.2
            while True:  # the engine already counts these alarms: they must reach the database
                try:
                    await self._apply(batch)
                    break
                except Exception:
                    log.exception(
                        "writing %d alarm signal(s) failed; retrying in %.1f s", len(batch), backoff
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
            for _ in batch:
                self._queue.task_done()
            self.relay_wakeup.set()

    async def _apply(self, batch: list[tuple[Signal, SignalContext]]) -> None:
        by_tenant: dict[uuid.UUID, list[tuple[Signal, SignalContext]]] = defaultdict(list)
        for signal, where in batch:
            by_tenant[where.tenant_id].append((signal, where))
        for tenant_id, items in by_tenant.items():
            scope = Scope.for_tenant(tenant_id)
            async with scoped_session(self.runtime.sessions, scope) as session, session.begin():
                for signal, where in items:
                    await apply_signal(session, signal, where)


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
