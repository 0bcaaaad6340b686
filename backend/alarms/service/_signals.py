"""Engine signals raise, upgrade and clear alarms: the engine's side of the lifecycle."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import Alarm, AlarmRule, AlarmStatus, Silence
from backend.alarms.rules import RuleSpec
from backend.alarms.service._incidents import join_incident, leave_incident, raise_incident_severity
from backend.alarms.service._outbox import ENGINE_ACTOR, announce, stop_paging
from backend.alarms.silences import covering, silences_around

if TYPE_CHECKING:
    from backend.alarms.engine import Signal

# An alarm raised again and again: the 4th raise of one rule × sensor within 10 minutes marks
# it flapping, recorded and shown but no longer paging anyone (hysteresis should prevent it;
# a flapping alarm means a deadband needs tuning).
FLAP_WINDOW = timedelta(minutes=10)
FLAP_RAISES = 4
# Unacknowledged alarms remind the people already paged this often (a rule may say otherwise).
REMIND_EVERY_S = 300.0


@dataclass(frozen=True)
class SignalContext:
    """Where a signal's sensor lives, resolved by the caller from the device registry."""

    tenant_id: uuid.UUID
    site_id: uuid.UUID
    device_id: uuid.UUID | None
    zone_id: uuid.UUID | None


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _same_sensor(sensor_id: uuid.UUID | None) -> ColumnElement[bool]:
    # Event rules belong to one device (no sensor): the rule id alone names the alarm.
    return Alarm.sensor_id.is_(None) if sensor_id is None else Alarm.sensor_id == sensor_id


async def _active(
    session: AsyncSession, rule_id: uuid.UUID, sensor_id: uuid.UUID | None
) -> Alarm | None:
    return await session.scalar(
        select(Alarm).where(
            Alarm.rule_id == rule_id, _same_sensor(sensor_id), Alarm.cleared_at.is_(None)
        )
    )


async def apply_signal(
    *, session: AsyncSession, signal: Signal, where: SignalContext
) -> Alarm | None:
    """One engine signal; the session's scope must hold ``where.tenant_id``."""
    alarm = await _active(session, signal.rule_id, signal.sensor_id)
    at = _ts(signal.ts_ms)
    if signal.kind == "raise":
        if alarm is not None:  # a repeat refreshes the open alarm
            alarm.repeats += 1
            alarm.refreshed_at = at
            alarm.value = signal.value
            if signal.snapshot is not None:
                alarm.snapshot_key = signal.snapshot
            return alarm
        return await _raise(session, signal, where, at)
    if alarm is None:
        return None  # nothing open to change (e.g. cleared by hand meanwhile)
    if signal.kind == "upgrade":
        assert signal.severity is not None
        alarm.severity = signal.severity
        alarm.level = signal.level
        alarm.value = signal.value
        alarm.peak_value = signal.value
        if signal.snapshot is not None:
            alarm.snapshot_key = signal.snapshot
        if alarm.status in (AlarmStatus.ACKNOWLEDGED, AlarmStatus.DISPATCHED):
            await _reannunciate(session, alarm, at)
        await raise_incident_severity(session, alarm)
        await announce(
            session=session, alarm=alarm, kind="SEVERITY_CHANGED", actor=ENGINE_ACTOR, at=at
        )
    elif signal.kind == "clear":
        alarm.cleared_at = at
        alarm.status = AlarmStatus.CLEARED
        alarm.value = signal.value
        alarm.peak_value = _farther(alarm.peak_value, signal.peak, signal.value)
        stop_paging(alarm)
        await leave_incident(session, alarm, at)
        await announce(session=session, alarm=alarm, kind="CLEARED", actor=ENGINE_ACTOR, at=at)
    return alarm


def _farther(stored: float | None, peak: float | None, cleared_at: float | None) -> float | None:
    """The more extreme of the stored peak and the engine's, on the alarm's side of the value
    it cleared at (above it for a high alarm, below for a low one). The engine's covers the
    readings since the raise, or only since a restart: then the stored one may be farther."""
    if peak is None or cleared_at is None:
        return stored
    if stored is None:
        return peak
    return max(stored, peak) if peak >= cleared_at else min(stored, peak)


async def _raise(
    session: AsyncSession, signal: Signal, where: SignalContext, at: datetime
) -> Alarm:
    assert signal.severity is not None
    alarm = Alarm(
        tenant_id=where.tenant_id,
        site_id=where.site_id,
        rule_id=signal.rule_id,
        sensor_id=signal.sensor_id,
        device_id=signal.device_id or where.device_id,
        zone_id=where.zone_id,
        severity=signal.severity,
        level=signal.level,
        status=AlarmStatus.ACTIVE_UNACKNOWLEDGED,
        value=signal.value,
        peak_value=signal.value,
        raised_at=at,
        refreshed_at=at,
        escalation_step=0,
        reminders=0,
        snapshot_key=signal.snapshot,
    )
    silence = await _covering_silence(session, where, signal.sensor_id, at)
    alarm.silence_id = None if silence is None else silence.id
    alarm.flapping = await _recent_raises(session, signal, at) >= FLAP_RAISES - 1
    if alarm.pages_people:
        await _schedule_paging(session, alarm)
    session.add(alarm)
    await session.flush()
    await join_incident(session, alarm)
    note = None
    if silence is not None:
        note = f"silenced: {silence.reason}"
    elif alarm.flapping:
        note = f"flapping: raised {FLAP_RAISES} times within {FLAP_WINDOW}"
    await announce(
        session=session, alarm=alarm, kind="RAISED", actor=ENGINE_ACTOR, note=note, at=at
    )
    return alarm


async def _reannunciate(session: AsyncSession, alarm: Alarm, at: datetime) -> None:
    """An acknowledged alarm that rises to a higher severity is unacknowledged again
    (ISA-18.2: a priority change re-annunciates; CONTRACT.md v2): someone acknowledged an
    ORANGE leak, not the RED one it became. Earlier acknowledgements stay in the transitions;
    paging starts over from now, from the escalation step it had reached."""
    alarm.status = AlarmStatus.ACTIVE_UNACKNOWLEDGED
    alarm.acknowledged_at = None
    alarm.acknowledged_by = None
    if alarm.pages_people:
        deadline, every = await paging_intervals(session=session, alarm=alarm)
        alarm.escalate_at = at + deadline
        alarm.remind_at = at + every


async def _covering_silence(
    session: AsyncSession, where: SignalContext, sensor_id: uuid.UUID | None, at: datetime
) -> Silence | None:
    silences = await silences_around(session=session, site_id=where.site_id, at=at)
    return covering(silences, where.site_id, where.zone_id, sensor_id, at)


async def _recent_raises(session: AsyncSession, signal: Signal, at: datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Alarm)
        .where(
            Alarm.rule_id == signal.rule_id,
            _same_sensor(signal.sensor_id),
            Alarm.raised_at > at - FLAP_WINDOW,
        )
    )
    return int(count or 0)


async def paging_intervals(*, session: AsyncSession, alarm: Alarm) -> tuple[timedelta, timedelta]:
    """The alarm's rule's acknowledgement deadline and reminder interval."""
    definition = await session.scalar(
        select(AlarmRule.definition).where(AlarmRule.id == alarm.rule_id)
    )
    spec = RuleSpec.from_json(definition or {"kind": "threshold"})
    every = float(spec.params.get("remind_every_s") or REMIND_EVERY_S)
    return timedelta(seconds=spec.ack_deadline_s), timedelta(seconds=every)


async def _schedule_paging(session: AsyncSession, alarm: Alarm) -> None:
    deadline, every = await paging_intervals(session=session, alarm=alarm)
    alarm.escalate_at = alarm.raised_at + deadline
    alarm.remind_at = alarm.raised_at + every
