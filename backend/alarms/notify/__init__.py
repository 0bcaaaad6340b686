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

``_messages`` says what is sent, ``_senders`` holds SMS and SMTP, ``_store`` the job's reads
and receipts, ``_job`` the job itself.
"""

from __future__ import annotations

from backend.alarms.notify._job import (
    QUEUE,
    Notifier,
    Undeliverable,
    declare_notify_actor,
    notification_sink,
)
from backend.alarms.notify._messages import (
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    KIND_TEXT,
    SEVERITY_TEXT,
    SIGNATURE_HEADER,
    Person,
    Plan,
    Target,
    idempotency_key,
    sign,
    verify,
)
from backend.alarms.notify._senders import LogSmsProvider, SmsProvider, SmtpMailer
from backend.core.errors import DeliveryFailed

__all__ = [
    "EVENT_HEADER",
    "IDEMPOTENCY_HEADER",
    "KIND_TEXT",
    "QUEUE",
    "SEVERITY_TEXT",
    "SIGNATURE_HEADER",
    "DeliveryFailed",
    "LogSmsProvider",
    "Notifier",
    "Person",
    "Plan",
    "SmsProvider",
    "SmtpMailer",
    "Target",
    "Undeliverable",
    "declare_notify_actor",
    "idempotency_key",
    "notification_sink",
    "sign",
    "verify",
]
