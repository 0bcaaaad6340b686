"""The notify job: one outbox event to every channel of its tenant that wants it.

The outbox relay hands each event to ``notification_sink``, which enqueues one Dramatiq
message (``seq``, ``tenant_id``). The actor loads the outbox row and the tenant's enabled
channels in a session scoped to that tenant, skips the channels already recorded as delivered
for this event, and delivers the rest: a signed webhook POST, an e-mail, an SMS. A failure
raises, so Dramatiq retries with back-off; the channels that succeeded are recorded first, so
a retry reaches only the ones still missing. A receiver that sees the same ``Idempotency-Key``
twice (a crash between delivery and record) must treat it as one notification.

Webhooks go through the egress guard (``backend.core.egress``): a target that resolves to a
non-public address, or that answers with a redirect (never followed), will not work on a
retry either, so that delivery is recorded as failed with its reason — on the delivery row and
as the channel's ``last_error`` — and not retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import smtplib
import threading
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import dramatiq
import httpx
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.alarms.channels import (
    MAX_ERROR,
    ChannelKind,
    NotificationChannel,
    NotificationDelivery,
)
from backend.alarms.escalation import REGULATOR, ROLE_TEXT
from backend.alarms.models import EscalationNotice, OutboxMessage
from backend.auth.authz import GOVERNMENT_ROLES
from backend.auth.models import Membership, User
from backend.core.db import create_app_engine, make_sessionmaker, utcnow
from backend.core.egress import EgressPolicy, EgressRefused, guarded_client
from backend.core.files import open_private
from backend.core.settings import Settings
from backend.jobs.mail import FileMailer, Mailer, Message
from backend.telemetry.models import Sensor
from tenants.divisions import covers
from tenants.models import Site
from tenants.scope import Scope, scoped_session
from tenants.service import tenant_domain

log = logging.getLogger("anjian.notify")
T = TypeVar("T")

QUEUE = "notify"
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


class DeliveryFailed(Exception):
    """Some channels could not be reached; Dramatiq retries the job for those."""


class Undeliverable(Exception):
    """A channel that a retry cannot reach either (a redirect, which is not followed)."""


def sign(secret: str, body: bytes) -> str:
    """The ``X-Anjian-Signature`` value: ``sha256=`` and the hex HMAC of the exact body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does with the header (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), signature)


def idempotency_key(seq: int, channel_id: uuid.UUID | str) -> str:
    return f"{seq}:{channel_id}"


# -- SMS -------------------------------------------------------------------------------------


class SmsProvider(Protocol):
    def send(self, phone: str, text: str, idempotency_key: str) -> None: ...


class LogSmsProvider:
    """Development provider: one JSON line per message in ``<data_dir>/sms.log``; a key
    already in the log is not written again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def send(self, phone: str, text: str, idempotency_key: str) -> None:
        with self._lock:
            if any(m.get("idempotency_key") == idempotency_key for m in self.messages()):
                return
            line = {"to": phone, "text": text, "idempotency_key": idempotency_key}
            fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)  # phone numbers: 0600
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")


# -- e-mail over SMTP ------------------------------------------------------------------------


class SmtpMailer:
    """``smtp://user:pass@host:25``, ``smtps://…:465`` or ``smtp://…:587?starttls=true``;
    ``?from=`` sets the sender. The Message-ID derives from the idempotency key, so a
    receiving system can drop a repeat."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"ANJIAN_SMTP_URL must be smtp:// or smtps://host, got {url!r}")
        query = parse_qs(parts.query)
        self.ssl = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.ssl else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        self.sender = query.get("from", ["noreply@anjian.local"])[0]
        self.timeout = timeout

    def send(self, message: Message) -> None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Date"] = formatdate(usegmt=True)
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
        email["Message-ID"] = f"<{digest}@anjian.local>"
        email["X-Idempotency-Key"] = message.idempotency_key
        email.set_content(message.body)
        smtp_class = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        with smtp_class(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(email)


# -- what is sent ----------------------------------------------------------------------------


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


# -- the job ---------------------------------------------------------------------------------


class Notifier:
    """The body of the notify actor. Workers are threads without an event loop, so it keeps
    its own loop thread with its own database engine for the few queries a job makes."""

    def __init__(
        self,
        settings: Settings,
        *,
        mailer: Mailer | None = None,
        sms: SmsProvider | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.settings = settings
        self.mailer = mailer or FileMailer(settings.mail_dir)
        self.sms = sms or LogSmsProvider(settings.data_dir / "sms.log")
        # Tenants choose webhook URLs: only the guarded client may post to them.
        self.http: httpx.Client = guarded_client(
            EgressPolicy(settings.webhook_allow_networks), timeout=timeout
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: Settings, environ: Mapping[str, str] | None = None
    ) -> Notifier:
        """E-mail over SMTP when ``ANJIAN_SMTP_URL`` is set, else files under the data dir."""
        smtp_url = (os.environ if environ is None else environ).get("ANJIAN_SMTP_URL")
        return cls(settings, mailer=SmtpMailer(smtp_url) if smtp_url else None)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="notify-db", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _maker(self) -> async_sessionmaker[AsyncSession]:
        # Called on the loop thread only.
        if self._sessions is None:
            self._engine = create_app_engine(self.settings)
            self._sessions = make_sessionmaker(self._engine)
        return self._sessions

    def close(self) -> None:
        self.http.close()
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if self._engine is not None:
            asyncio.run_coroutine_threadsafe(self._engine.dispose(), loop).result()
            self._engine = self._sessions = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    async def plan(self, seq: int, tenant_id: uuid.UUID) -> Plan | None:
        scope = Scope.for_tenant(tenant_id)
        async with scoped_session(self._maker(), scope) as session, session.begin():
            row = await session.scalar(
                select(OutboxMessage).where(
                    OutboxMessage.seq == seq, OutboxMessage.tenant_id == tenant_id
                )
            )
            if row is None:
                return None
            alarm: dict[str, Any] = dict(row.payload.get("alarm") or {})
            done = set(
                await session.scalars(
                    select(NotificationDelivery.channel_id).where(
                        NotificationDelivery.outbox_seq == seq
                    )
                )
            )
            channels = (
                await session.scalars(
                    select(NotificationChannel)
                    .where(NotificationChannel.enabled.is_(True))
                    .order_by(NotificationChannel.created_at, NotificationChannel.id)
                )
            ).all()
            # Alarms raised inside a silence, or flapping, are recorded but page nobody.
            paging = not alarm.get("silenced") and not alarm.get("flapping")
            targets = tuple(
                Target(c.id, c.kind, c.target, c.secret)
                for c in channels
                if paging
                and c.id not in done
                and c.wants(str(alarm.get("severity")), alarm.get("site_id"))
            )
            people: tuple[Person, ...] = ()
            escalation = row.payload.get("escalation")
            if paging and escalation:
                people = await _escalation_people(session, seq, tenant_id, alarm, escalation)
            sensor_code = site_name = None
            if (targets or people) and alarm.get("sensor_id"):
                sensor_code = await session.scalar(
                    select(Sensor.code).where(Sensor.id == uuid.UUID(alarm["sensor_id"]))
                )
            if (targets or people) and alarm.get("site_id"):
                site_name = await session.scalar(
                    select(Site.name).where(Site.id == uuid.UUID(alarm["site_id"]))
                )
            return Plan(
                seq=seq,
                tenant_id=str(tenant_id),
                kind=str(row.payload.get("kind")),
                alarm=alarm,
                created_at=row.created_at.isoformat(),
                sensor_code=sensor_code,
                site_name=site_name,
                targets=targets,
                people=people,
                escalated_to=None if not escalation else str(escalation.get("role")),
            )

    async def record_person(self, seq: int, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        scope = Scope.for_tenant(tenant_id)
        try:
            async with scoped_session(self._maker(), scope) as session, session.begin():
                session.add(EscalationNotice(tenant_id=tenant_id, outbox_seq=seq, user_id=user_id))
        except IntegrityError:
            pass  # recorded by a concurrent run of the same job: delivered either way

    async def record(self, seq: int, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> None:
        scope = Scope.for_tenant(tenant_id)
        try:
            async with scoped_session(self._maker(), scope) as session, session.begin():
                session.add(
                    NotificationDelivery(tenant_id=tenant_id, outbox_seq=seq, channel_id=channel_id)
                )
        except IntegrityError:
            pass  # recorded by a concurrent run of the same job: delivered either way

    async def record_failure(
        self, seq: int, tenant_id: uuid.UUID, channel_id: uuid.UUID, error: str
    ) -> None:
        """The event will never reach this channel: close the pair and tell its managers."""
        reason = error[:MAX_ERROR]
        scope = Scope.for_tenant(tenant_id)
        try:
            async with scoped_session(self._maker(), scope) as session, session.begin():
                session.add(
                    NotificationDelivery(
                        tenant_id=tenant_id, outbox_seq=seq, channel_id=channel_id, error=reason
                    )
                )
                await session.flush()
                await session.execute(
                    update(NotificationChannel)
                    .where(NotificationChannel.id == channel_id)
                    .values(last_error=reason, last_error_at=utcnow())
                )
        except IntegrityError:
            pass  # a concurrent run of the same job closed the pair first

    def send(self, plan: Plan, target: Target) -> None:
        key = idempotency_key(plan.seq, target.id)
        if target.kind is ChannelKind.WEBHOOK:
            body = plan.webhook_body(target)
            response = self.http.post(
                target.address,
                content=body,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    SIGNATURE_HEADER: sign(target.secret or "", body),
                    IDEMPOTENCY_HEADER: key,
                    EVENT_HEADER: plan.kind,
                },
            )
            if response.is_redirect:
                raise Undeliverable(
                    f"webhook 返回重定向 {response.status_code}，不会跟随 / the webhook answered "
                    f"a redirect ({response.status_code}), which is not followed: use the final URL"
                )
            if not response.is_success:
                raise DeliveryFailed(f"webhook answered {response.status_code}")
            return
        subject, text = plan.text()
        if target.kind is ChannelKind.EMAIL:
            self.mailer.send(
                Message(to=target.address, subject=subject, body=text, idempotency_key=key)
            )
        else:
            self.sms.send(target.address, f"{subject}\n{text}", key)

    def deliver(self, seq: int, tenant_id: str) -> None:
        """The actor: every wanting channel not yet reached; raise if any is still missing."""
        tenant = uuid.UUID(tenant_id)
        plan = self._run(self.plan(seq, tenant))
        if plan is None:
            log.warning("notify: outbox message %d of tenant %s not found", seq, tenant_id)
            return
        failed: list[str] = []
        for target in plan.targets:
            try:
                self.send(plan, target)
            except (EgressRefused, Undeliverable) as exc:  # the same on every retry
                log.warning(
                    "notify: %s channel %s refused for %d, not retried: %s",
                    target.kind,
                    target.id,
                    seq,
                    exc,
                )
                self._run(self.record_failure(seq, tenant, target.id, str(exc)))
                continue
            except Exception as exc:  # network error, non-2xx, SMTP refusal: retry later
                log.warning(
                    "notify: %s channel %s failed for %d: %s", target.kind, target.id, seq, exc
                )
                failed.append(f"{target.kind.value} {target.id}: {exc}")
                continue
            self._run(self.record(seq, tenant, target.id))
        subject, text = plan.text()
        for person in plan.people:
            key = f"{seq}:user:{person.user_id}"
            try:
                self.mailer.send(
                    Message(to=person.email, subject=subject, body=text, idempotency_key=key)
                )
            except Exception as exc:
                log.warning("notify: escalation e-mail to %s failed for %d: %s", person, seq, exc)
                failed.append(f"escalation {person.user_id}: {exc}")
                continue
            self._run(self.record_person(seq, tenant, person.user_id))
        if failed:
            raise DeliveryFailed(f"outbox message {seq}: " + "; ".join(failed))


async def _escalation_people(
    session: AsyncSession,
    seq: int,
    tenant_id: uuid.UUID,
    alarm: dict[str, Any],
    escalation: dict[str, Any],
) -> tuple[Person, ...]:
    """The holders of the escalation's role not yet e-mailed for this event: the tenant's
    safety managers or owners, or the regulators whose jurisdiction covers the site."""
    role = str(escalation.get("role"))
    if role == REGULATOR:
        division = str(alarm.get("division_code") or "")
        rows = (
            await session.execute(
                select(Membership.user_id, Membership.domain, User)
                .join(User, User.id == Membership.user_id)
                .where(
                    Membership.domain.like("gov:%"),
                    Membership.role.in_([r for r in GOVERNMENT_ROLES if r != "analyst"]),
                )
            )
        ).all()
        holders = [(uid, u.email) for uid, domain, u in rows if covers(domain[4:], division)]
    else:
        rows = (
            await session.execute(
                select(Membership.user_id, User)
                .join(User, User.id == Membership.user_id)
                .where(Membership.domain == tenant_domain(tenant_id), Membership.role == role)
            )
        ).all()
        holders = [(uid, user.email) for uid, user in rows]
    done = set(
        await session.scalars(
            select(EscalationNotice.user_id).where(EscalationNotice.outbox_seq == seq)
        )
    )
    return tuple(Person(uid, email) for uid, email in holders if uid not in done)


def declare_notify_actor(
    broker: dramatiq.Broker,
    notifier: Notifier,
    *,
    max_retries: int = 20,
    min_backoff: int = 1000,
    max_backoff: int = 300_000,
) -> dramatiq.Actor:  # type: ignore[type-arg]
    def notify(seq: int, tenant_id: str) -> None:
        notifier.deliver(seq, tenant_id)

    return dramatiq.actor(
        notify,
        broker=broker,
        actor_name="notify",
        queue_name=QUEUE,
        max_retries=max_retries,
        min_backoff=min_backoff,
        max_backoff=max_backoff,
    )


def notification_sink(
    broker_actor: dramatiq.Actor,  # type: ignore[type-arg]
) -> Callable[[dict[str, Any]], None]:
    """A relay sink: one notify message per event. Raises when the broker is down, so the
    relay leaves the event unsent and hands it on after the broker is back."""

    def sink(event: dict[str, Any]) -> None:
        broker_actor.send(int(event["seq"]), str(event["tenant_id"]))

    return sink
