"""Notification channels: where a tenant's alarm events go (webhook, e-mail, SMS).

A channel belongs to one tenant and optionally to one of its sites; it receives the events of
alarms at or above its minimum severity. Webhook channels carry a secret that signs every POST
(HMAC-SHA256). ``NotificationDelivery`` records each (outbox event, channel) delivered — or
given up on for good, with the reason — so a retried notification job skips the channels it
already reached. Webhooks reach the public internet only (``backend.core.egress``): a literal
address inside is refused here, and every delivery checks the resolved address again.

Managing channels is alarm administration: ``alarm *`` in the tenant (owner, safety manager).
"""

from __future__ import annotations

import enum
import re
import secrets
import uuid
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    UniqueConstraint,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from backend.alarms.rules import Severity
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import may, require
from backend.core.db import Base, TenantOwned, string_enum, utcnow
from backend.core.egress import EgressPolicy, EgressRefused, check_url_host
from backend.core.errors import BadInput, NotFound
from tenants.models import Site
from tenants.service import tenant_domain

MAX_TARGET = 500
MAX_ERROR = 500
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?\d{6,15}$")


class ChannelKind(enum.StrEnum):
    WEBHOOK = "WEBHOOK"
    EMAIL = "EMAIL"
    SMS = "SMS"


class NotificationChannel(TenantOwned, Base):
    __tablename__ = "notification_channels"
    __table_args__ = (
        # Nullable composite key: a site-bound channel's site must belong to its tenant.
        ForeignKeyConstraint(
            ["site_id", "tenant_id"], ["sites.id", "sites.tenant_id"], ondelete="CASCADE"
        ),
    )

    kind: Mapped[ChannelKind] = mapped_column(string_enum(ChannelKind))
    target: Mapped[str] = mapped_column(String(MAX_TARGET))
    secret: Mapped[str | None] = mapped_column(String(128))
    min_severity: Mapped[str] = mapped_column(String(8))
    enabled: Mapped[bool] = mapped_column(default=True)
    site_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # The last delivery given up on for good (a refused target), for the channel's managers.
    last_error: Mapped[str | None] = mapped_column(String(MAX_ERROR))
    last_error_at: Mapped[datetime | None]

    def wants(self, severity: str, site_id: str | None) -> bool:
        """Whether an event of an alarm with this severity on this site goes here."""
        if not self.enabled:
            return False
        if self.site_id is not None and str(self.site_id) != site_id:
            return False
        try:
            return Severity(severity).rank >= Severity(self.min_severity).rank
        except ValueError:
            return False


class NotificationDelivery(TenantOwned, Base):
    """One outbox event delivered to one channel: the receiver has it, never send it again."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (UniqueConstraint("outbox_seq", "channel_id"),)

    outbox_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True
    )
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the event was not delivered and never will be (the target was refused): the
    # row still closes the (event, channel) pair, so retries do not try it again.
    error: Mapped[str | None] = mapped_column(String(MAX_ERROR))


# -- service ---------------------------------------------------------------------------------


def normalise_target(kind: ChannelKind, target: str, *, egress: EgressPolicy | None = None) -> str:
    """The stored form of a target; a webhook to a literal non-public address is refused
    (names are judged at delivery, after resolution, where the answer is the real one)."""
    value = target.strip()
    if not value or len(value) > MAX_TARGET:
        raise BadInput(f"target must be 1 to {MAX_TARGET} characters")
    if kind is ChannelKind.WEBHOOK:
        parts = urlsplit(value)
        try:
            hostname = parts.hostname
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            hostname = None
        if parts.scheme not in ("http", "https") or not hostname:
            raise BadInput("a webhook target must be an http:// or https:// URL")
        try:
            check_url_host(hostname, egress or EgressPolicy())
        except EgressRefused as exc:
            raise BadInput(str(exc), field="target") from None
    elif kind is ChannelKind.EMAIL:
        if not _EMAIL.match(value):
            raise BadInput("an e-mail target must be an address like name@example.cn")
    else:
        value = re.sub(r"[\s-]", "", value)
        if not _PHONE.match(value):
            raise BadInput("an SMS target must be a phone number like +8613800000000")
    return value


async def _owning_tenant(
    session: AsyncSession,
    principal: Principal,
    site_id: uuid.UUID | None,
    tenant_id: uuid.UUID | None,
) -> uuid.UUID:
    if site_id is not None:
        site = await session.scalar(select(Site).where(Site.id == site_id))
        if site is None:
            raise NotFound(f"site {site_id} not found")
        if tenant_id is not None and tenant_id != site.tenant_id:
            raise BadInput("the site belongs to another tenant")
        return site.tenant_id
    if tenant_id is not None:
        if tenant_id not in principal.scope.tenant_ids:
            raise NotFound(f"tenant {tenant_id} not found")
        return tenant_id
    if len(principal.scope.tenant_ids) == 1:
        return next(iter(principal.scope.tenant_ids))
    raise BadInput("name the tenant or a site of the channel")


async def create_channel(
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    *,
    kind: ChannelKind,
    target: str,
    min_severity: Severity = Severity.YELLOW,
    site_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
    egress: EgressPolicy | None = None,
) -> NotificationChannel:
    """``egress`` carries the networks the platform allows webhooks to reach besides the
    public internet (``Settings.webhook_allow_networks``); none when omitted."""
    owner = await _owning_tenant(session, principal, site_id, tenant_id)
    require(authz, principal, tenant_domain(owner), "alarm", "*")
    channel = NotificationChannel(
        tenant_id=owner,
        kind=kind,
        target=normalise_target(kind, target, egress=egress),
        secret=secrets.token_hex(32) if kind is ChannelKind.WEBHOOK else None,
        min_severity=Severity(min_severity).value,
        enabled=True,
        site_id=site_id,
    )
    session.add(channel)
    await session.flush()
    return channel


async def list_channels(
    session: AsyncSession, authz: Authorizer, principal: Principal
) -> list[NotificationChannel]:
    """The channels the caller may manage (lists filter silently)."""
    rows = (
        await session.scalars(
            select(NotificationChannel).order_by(
                NotificationChannel.created_at, NotificationChannel.id
            )
        )
    ).all()
    allowed: dict[uuid.UUID, bool] = {}
    out = []
    for row in rows:
        if row.tenant_id not in allowed:
            allowed[row.tenant_id] = may(
                authz, principal, tenant_domain(row.tenant_id), "alarm", "*"
            )
        if allowed[row.tenant_id]:
            out.append(row)
    return out


async def disable_channel(
    session: AsyncSession, authz: Authorizer, principal: Principal, *, channel_id: uuid.UUID
) -> NotificationChannel:
    channel = await session.scalar(
        select(NotificationChannel).where(NotificationChannel.id == channel_id)
    )
    if channel is None:
        raise NotFound(f"notification channel {channel_id} not found")
    require(authz, principal, tenant_domain(channel.tenant_id), "alarm", "*")
    channel.enabled = False
    return channel
