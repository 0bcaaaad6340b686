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

import re
import secrets
import uuid
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import (
    MAX_CHANNEL_TARGET,
    MAX_DELIVERY_ERROR,
    ChannelKind,
    NotificationChannel,
)
from backend.alarms.rules import Severity
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import may, require
from backend.core.egress import EgressPolicy, EgressRefused, check_url_host
from backend.core.errors import BadInput, NotFound
from tenants.models import Site
from tenants.service import tenant_domain

__all__ = [
    "MAX_ERROR",
    "MAX_TARGET",
    "create_channel",
    "disable_channel",
    "list_channels",
    "normalise_target",
]

MAX_TARGET = MAX_CHANNEL_TARGET
MAX_ERROR = MAX_DELIVERY_ERROR
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?\d{6,15}$")


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
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
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
        min_severity=Severity(min_severity),
        enabled=True,
        site_id=site_id,
    )
    session.add(channel)
    await session.flush()
    return channel


async def list_channels(
    *, session: AsyncSession, authz: Authorizer, principal: Principal
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
    *, session: AsyncSession, authz: Authorizer, principal: Principal, channel_id: uuid.UUID
) -> NotificationChannel:
    channel = await session.scalar(
        select(NotificationChannel).where(NotificationChannel.id == channel_id)
    )
    if channel is None:
        raise NotFound(f"notification channel {channel_id} not found")
    require(authz, principal, tenant_domain(channel.tenant_id), "alarm", "*")
    channel.enabled = False
    return channel
