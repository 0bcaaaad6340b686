"""The notify job's body: deliver one event to every channel and person still missing it."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import dramatiq
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.alarms.models import ChannelKind
from backend.alarms.notify import _store
from backend.alarms.notify._messages import (
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    Plan,
    Target,
    idempotency_key,
    sign,
)
from backend.alarms.notify._senders import LogSmsProvider, SmsProvider, SmtpMailer
from backend.core.db import create_app_engine, make_sessionmaker
from backend.core.egress import EgressPolicy, EgressRefused, guarded_client
from backend.core.errors import DeliveryFailed
from backend.core.mail import FileMailer, Mailer, Message
from backend.core.settings import Settings
from privacy.crypto import KeyStore, bind_key_store

log = logging.getLogger("anjian.notify")
T = TypeVar("T")

QUEUE = "notify"


class Undeliverable(DeliveryFailed):
    """A channel that a retry cannot reach either (a redirect, which is not followed)."""


class Notifier:
    """The body of the notify actor. Workers are threads without an event loop, so it keeps
    its own loop thread with its own database engine for the few queries a job makes."""

    def __init__(
        self,
        settings: Settings,
        *,
        keys: KeyStore,
        mailer: Mailer | None = None,
        sms: SmsProvider | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.settings = settings
        self.keys = keys  # users' addresses are sealed at rest
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
        cls, settings: Settings, *, keys: KeyStore, environ: Mapping[str, str] | None = None
    ) -> Notifier:
        """E-mail over SMTP when ``ANJIAN_SMTP_URL`` is set, else files under the data dir."""
        smtp_url = (os.environ if environ is None else environ).get("ANJIAN_SMTP_URL")
        return cls(settings, keys=keys, mailer=SmtpMailer(smtp_url) if smtp_url else None)

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
            self._sessions = bind_key_store(make_sessionmaker(self._engine), self.keys)
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
        return await _store.load_plan_in_own_transaction(
            sessions=self._maker(), seq=seq, tenant_id=tenant_id
        )

    async def record_person(self, seq: int, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await _store.record_notice_in_own_transaction(
            sessions=self._maker(), seq=seq, tenant_id=tenant_id, user_id=user_id
        )

    async def record(self, seq: int, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> None:
        await _store.record_delivery_in_own_transaction(
            sessions=self._maker(), seq=seq, tenant_id=tenant_id, channel_id=channel_id
        )

    async def record_failure(
        self, seq: int, tenant_id: uuid.UUID, channel_id: uuid.UUID, error: str
    ) -> None:
        await _store.record_failure_in_own_transaction(
            sessions=self._maker(), seq=seq, tenant_id=tenant_id, channel_id=channel_id, error=error
        )

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
        failed = self._deliver_to_channels(plan, tenant)
        failed += self._deliver_to_people(plan, tenant)
        if failed:
            raise DeliveryFailed(f"outbox message {seq}: " + "; ".join(failed))

    def _deliver_to_channels(self, plan: Plan, tenant: uuid.UUID) -> list[str]:
        seq = plan.seq
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
        return failed

    def _deliver_to_people(self, plan: Plan, tenant: uuid.UUID) -> list[str]:
        seq = plan.seq
        failed: list[str] = []
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
        return failed


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
