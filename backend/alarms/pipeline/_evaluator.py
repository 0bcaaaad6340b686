"""The engine-facing half of the alarm pipeline: readings in, signals out.

``AlarmEvaluator`` is what ingest hands each durable batch to: the rule engine evaluates it
inline (a few comparisons per reading) and each signal goes to ``emit`` with where its sensor,
device or zone lives, for the writer (``backend/jobs/alarm_writer.py``) to apply. It also keeps
which open alarm the engine counts for each rule, so a clear read from the outbox forgets
exactly that alarm. It runs no loop of its own: the jobs drive it (reloads, ticks, writes).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.alarms.engine import RuleEngine, Signal
from backend.alarms.models import Alarm
from backend.alarms.pipeline._loading import (
    RuleRow,
    RuleSet,
    unscoped_give_defaults,
    unscoped_open_alarms,
    unscoped_open_permits,
    unscoped_rule_definitions,
    unscoped_rule_set,
)
from backend.alarms.rules import RuleSpec
from backend.alarms.service import SignalContext
from backend.telemetry.records import EventRow
from backend.telemetry.registry import DeviceInfo

log = logging.getLogger("anjian.alarms")

Emit = Callable[[Signal, SignalContext], None]
# Sensors whose rules are installed between two turns of the event loop during a reload.
ENGINE_SLICE = 500
Rules = list[tuple[uuid.UUID, RuleSpec]]


class AlarmEvaluator:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], emit: Emit) -> None:
        self.sessions = sessions
        self.engine = RuleEngine()
        self._emit = emit
        # The open alarm this engine counts for each rule × sensor (sensor None: a device or
        # zone rule), so a clear read from the outbox forgets exactly that alarm and not a
        # newer one raised since by the same rule.
        self._holding: dict[tuple[uuid.UUID, uuid.UUID | None], uuid.UUID] = {}
        self._where: dict[uuid.UUID, SignalContext] = {}  # sensor → where it lives
        self._device_where: dict[uuid.UUID, SignalContext] = {}
        self._zone_rule_where: dict[uuid.UUID, SignalContext] = {}  # zone rule → its zone
        # The change counters the loaded rules and permits reflect (-1: nothing loaded).
        self.registry_version = -1
        self.permits_version = -1
        self.loaded_sensors: set[uuid.UUID] = set()
        self.loaded_zones: set[uuid.UUID] = set()
        # Each rule's definition as last parsed, by version; each sensor's rules as installed.
        self._specs: dict[uuid.UUID, tuple[int, RuleSpec]] = {}
        self._installed: dict[uuid.UUID, tuple[tuple[uuid.UUID, int], ...]] = {}
        self._reloading = asyncio.Lock()

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
                device.id, sensor, event.type, event.ts_ms, attributes, event.snapshot
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
        self._emit(signal, where)

    def tick(self, now_ms: int) -> None:
        """Time-driven rules (stale data, offline devices, presence timeouts) at ``now_ms``."""
        for signal in self.engine.tick(now_ms):
            self._enqueue(signal, None)

    # -- rules -------------------------------------------------------------------------------

    async def reload(self, now: datetime) -> None:
        """Give sensors without rules their defaults, then load every rule into the engine;
        ``now`` is the clock's, for the work permits still open."""
        async with self._reloading:  # the watch and a start-up load never interleave
            # Rules are kept for every tenant here: the engine is a system process.
            self.registry_version = await unscoped_give_defaults(sessions=self.sessions)
            rules = await unscoped_rule_set(sessions=self.sessions)
            await self._parse_changed(rules)
            await self._set_rules(rules)
            await self.load_permits(now)
            # Presence rules need to know which zones are confined spaces; events name zones.
            self.engine.set_zone_kinds({name: kind.value for name, kind in rules.zones})

    async def _parse_changed(self, rules: RuleSet) -> None:
        """Parse the definitions of the rules new or changed since the last load: a reload
        follows every new device anywhere on the platform, and re-reading and re-parsing tens
        of thousands of unchanged rules each time would hold this process for seconds."""
        rows = [*rules.sensor_rules, *rules.device_rules, *rules.zone_rules]
        current = {row.id: row.version for row in rows}
        for gone in self._specs.keys() - current.keys():
            del self._specs[gone]
        stale = [
            rule_id
            for rule_id, version in current.items()
            if self._specs.get(rule_id, (None, None))[0] != version
        ]
        for rule_id, (version, definition) in (
            await unscoped_rule_definitions(sessions=self.sessions, ids=stale)
        ).items():
            try:
                self._specs[rule_id] = (version, RuleSpec.from_json(definition))
            except (KeyError, TypeError, ValueError) as exc:  # one broken rule, not all
                log.error("alarm rule %s not loaded: malformed definition: %s", rule_id, exc)
                self._specs.pop(rule_id, None)

    def _rules_of(self, rows: list[RuleRow]) -> tuple[Rules, tuple[tuple[uuid.UUID, int], ...]]:
        """An owner's parsed rules, and the (id, version) pairs that say whether they changed."""
        parsed = [(row, self._specs.get(row.id)) for row in rows]
        held = [(row, spec) for row, spec in parsed if spec is not None]
        return (
            [(row.id, spec[1]) for row, spec in held],
            tuple(sorted((row.id, spec[0]) for row, spec in held)),
        )

    async def _set_rules(self, rules: RuleSet) -> None:
        by_sensor: dict[uuid.UUID, list[RuleRow]] = defaultdict(list)
        for row in rules.sensor_rules:
            assert row.sensor_id is not None and row.device_id is not None
            by_sensor[row.sensor_id].append(row)
            self._where[row.sensor_id] = SignalContext(
                row.tenant_id, row.site_id, row.device_id, row.zone_id
            )
        for sensor_id in self.loaded_sensors - by_sensor.keys():
            self.engine.remove_sensor(sensor_id)  # its rules were disabled or deleted
            self._installed.pop(sensor_id, None)
        for count, (sensor_id, rows) in enumerate(by_sensor.items(), 1):
            sensor_rules, versions = self._rules_of(rows)
            if self._installed.get(sensor_id) == versions:
                continue  # unchanged: the engine keeps these rules and their state
            try:
                self.engine.set_rules(sensor_id, sensor_rules)
                self._installed[sensor_id] = versions
            except ValueError as exc:  # one broken rule must not stop every other sensor's
                log.error("alarm rules of sensor %s not loaded: %s", sensor_id, exc)
            if not count % ENGINE_SLICE:
                await asyncio.sleep(0)  # ingest evaluates readings inline on this loop
        self.loaded_sensors = set(by_sensor)
        by_device: dict[uuid.UUID, list[RuleRow]] = defaultdict(list)
        for row in rules.device_rules:
            assert row.device_id is not None
            by_device[row.device_id].append(row)
            self._device_where[row.device_id] = SignalContext(
                row.tenant_id, row.site_id, row.device_id, None
            )
        for device_id, rows in by_device.items():
            try:
                self.engine.set_event_rules(device_id, self._rules_of(rows)[0])
            except ValueError as exc:
                log.error("alarm rules of device %s not loaded: %s", device_id, exc)
        by_zone: dict[uuid.UUID, list[RuleRow]] = defaultdict(list)
        for row in rules.zone_rules:
            assert row.zone_id is not None
            by_zone[row.zone_id].append(row)
            self._zone_rule_where[row.id] = SignalContext(
                row.tenant_id, row.site_id, None, row.zone_id
            )
        sensors_of: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = defaultdict(list)
        for zone_id, sensor_id, kind in rules.zone_sensors:
            sensors_of[zone_id].append((sensor_id, kind))
        for zone_id in self.loaded_zones - by_zone.keys():
            self.engine.set_zone_rules(zone_id, [], [])
        for zone_id, rows in by_zone.items():
            try:
                self.engine.set_zone_rules(zone_id, self._rules_of(rows)[0], sensors_of[zone_id])
            except ValueError as exc:
                log.error("alarm rules of zone %s not loaded: %s", zone_id, exc)
        self.loaded_zones = set(by_zone)

    async def load_permits(self, now: datetime) -> None:
        """Open (and future) work permits of the zones with composite rules."""
        if not self.loaded_zones:
            return
        self.permits_version, by_zone = await unscoped_open_permits(
            sessions=self.sessions, zones=self.loaded_zones, now=now
        )
        now_ms = round(now.timestamp() * 1000)
        for zone_id in self.loaded_zones:
            for signal in self.engine.set_permits(zone_id, by_zone.get(zone_id, []), now_ms):
                self._enqueue(signal, None)

    async def restore_open_alarms(self) -> None:
        """The alarms still open, as after a restart: the engine neither loses nor doubles
        them."""
        for alarm_id, rule_id, sensor_id, device_id, level in await unscoped_open_alarms(
            sessions=self.sessions
        ):
            self._holding[(rule_id, sensor_id)] = alarm_id
            # Device rules are found by device, zone rules by rule id alone.
            self.engine.restore(
                rule_id, sensor_id, level or "", device_id=None if sensor_id else device_id
            )

    # -- what the alarms became --------------------------------------------------------------

    def released(self, event: dict[str, Any]) -> None:
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

    def hold(self, signal: Signal, alarm: Alarm | None) -> None:
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
