"""What a notification says: the plan of one event, its text and its signed webhook body."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

from backend.alarms.escalation import ROLE_TEXT
from backend.alarms.models import ChannelKind

SIGNATURE_HEADER = "X-Anjian-Signature"
EVENT_HEADER = "X-Anjian-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"

SEVERITY_TEXT = {"RED": "红色", "ORANGE": "橙色", "YELLOW": "黄色", "BLUE": "蓝色"}
KIND_TEXT = {
    "RAISED": ("报警触发", "raised"),
    "SEVERITY_CHANGED": ("报警升级", "severity changed"),
    "ACKNOWLEDGED": ("报警已确认", "acknowledged"),
    "DISPATCHED": ("报警已派单", "dispatched"),
    "CLEARED": ("报警已解除", "cleared"),
    "CLOSED": ("报警已关闭", "closed"),
    "ESCALATED": ("报警已升级上报", "escalated"),
    "REMINDER": ("报警未确认提醒", "still unacknowledged"),
}


def sign(secret: str, body: bytes) -> str:
    """The ``X-Anjian-Signature`` value: ``sha256=`` and the hex HMAC of the exact body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does with the header (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), signature)


def idempotency_key(seq: int, channel_id: uuid.UUID | str) -> str:
    return f"{seq}:{channel_id}"


@dataclass(frozen=True)
class Target:
    id: uuid.UUID
    kind: ChannelKind
    address: str
    secret: str | None


@dataclass(frozen=True)
class Person:
    """Someone an escalation reaches by e-mail (the role they hold is why)."""

    user_id: uuid.UUID
    email: str


@dataclass(frozen=True)
class Plan:
    """One event and the channels (and, for an escalation, the people) that still need it."""

    seq: int
    tenant_id: str
    kind: str
    alarm: dict[str, Any]
    created_at: str
    sensor_code: str | None
    site_name: str | None
    targets: tuple[Target, ...]
    people: tuple[Person, ...] = ()
    escalated_to: str | None = None  # the role an ESCALATED event reaches

    def text(self) -> tuple[str, str]:
        """Subject and body, in Chinese with English."""
        zh_kind, en_kind = KIND_TEXT.get(self.kind, (self.kind, self.kind.lower()))
        severity = str(self.alarm.get("severity") or "")
        where = self.site_name or self.alarm.get("site_id") or ""
        sensor = self.sensor_code or self.alarm.get("sensor_id") or "-"
        value = self.alarm.get("value")
        level = self.alarm.get("level") or "-"
        subject = (
            f"【安监】{SEVERITY_TEXT.get(severity, severity)}{zh_kind} / {severity} alarm {en_kind}"
        )
        body = (
            f"{SEVERITY_TEXT.get(severity, severity)}{zh_kind}：{where} 传感器 {sensor}，"
            f"数值 {value}，级别 {level}，状态 {self.alarm.get('status')}。\n"
            f"{severity} alarm {en_kind}: site {where}, sensor {sensor}, value {value}, "
            f"level {level}, status {self.alarm.get('status')}.\n"
            f"报警编号 / alarm id: {self.alarm.get('id')}"
        )
        if self.escalated_to is not None:
            zh, en = ROLE_TEXT.get(self.escalated_to, (self.escalated_to, self.escalated_to))
            body += (
                f"\n未在时限内确认，已升级至{zh} / not acknowledged in time: escalated to the {en}"
            )
        return subject, body

    def webhook_body(self, target: Target) -> bytes:
        subject, text = self.text()
        document = {
            "id": idempotency_key(self.seq, target.id),
            "seq": self.seq,
            "event": self.kind,
            "tenant_id": self.tenant_id,
            "created_at": self.created_at,
            "alarm": {**self.alarm, "sensor_code": self.sensor_code, "site_name": self.site_name},
            "subject": subject,
            "text": text,
        }
        return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()
