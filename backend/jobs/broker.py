"""Dramatiq: the broker for the configured URL, the actors bound to it, and the worker.

Embedded mode (``stub://``) runs a stub broker with worker threads inside the server process;
production uses Redis or RabbitMQ and ``anjian worker`` processes. Actors are declared on an
explicit broker (never Dramatiq's implicit global), so tests can run several side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq
from dramatiq.brokers.stub import StubBroker

from backend.alarms.notify import Notifier, declare_notify_actor
from backend.core.mail import Mailer, Message
from backend.core.settings import Settings


def make_broker(settings: Settings, namespace: str = "anjian") -> dramatiq.Broker:
    url = settings.broker_url
    if url == "stub://":
        broker: dramatiq.Broker = StubBroker()
        broker.emit_after("process_boot")
        return broker
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url, namespace=namespace)
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=url, confirm_delivery=True)


@dataclass
class Jobs:
    """The actors of one broker; enqueue with ``jobs.deliver_mail.send(...)``."""

    broker: dramatiq.Broker
    deliver_mail: dramatiq.Actor  # type: ignore[type-arg]
    notify: dramatiq.Actor | None = None  # type: ignore[type-arg]


def declare_actors(
    broker: dramatiq.Broker, mailer: Mailer, notifier: Notifier | None = None
) -> Jobs:
    def deliver_mail(to: str, subject: str, body: str, idempotency_key: str) -> None:
        mailer.send(Message(to=to, subject=subject, body=body, idempotency_key=idempotency_key))

    return Jobs(
        broker=broker,
        deliver_mail=dramatiq.actor(
            deliver_mail,
            broker=broker,
            actor_name="deliver_mail",
            queue_name="mail",
            max_retries=10,
            min_backoff=1000,
            max_backoff=300_000,
        ),
        notify=None if notifier is None else declare_notify_actor(broker, notifier),
    )


def start_worker(broker: dramatiq.Broker, threads: int = 2) -> dramatiq.Worker:
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=200)
    worker.start()
    return worker
