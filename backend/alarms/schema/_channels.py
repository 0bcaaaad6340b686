"""GraphQL: notification channels (owner and safety manager of a tenant)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from backend.alarms import channels
from backend.alarms.models import ChannelKind, NotificationChannel
from backend.alarms.rules import Severity
from backend.alarms.schema._alarms import SeverityEnum
from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.egress import EgressPolicy
from backend.core.ids import parse_id


@strawberry.enum(name="NotificationChannelKind")
class ChannelKindEnum(enum.Enum):
    WEBHOOK = "WEBHOOK"
    EMAIL = "EMAIL"
    SMS = "SMS"


@strawberry.type(name="NotificationChannel")
class NotificationChannelType:
    id: strawberry.ID
    tenant_id: strawberry.ID
    kind: ChannelKindEnum
    target: str
    min_severity: SeverityEnum
    enabled: bool
    site_id: strawberry.ID | None
    created_at: datetime
    secret: str | None = strawberry.field(
        description="Webhook only: the key of the HMAC-SHA256 in X-Anjian-Signature."
    )
    last_error: str | None = strawberry.field(
        description="Why the last delivery was given up on for good (e.g. a refused address)."
    )
    last_error_at: datetime | None

    @classmethod
    def of(cls, row: NotificationChannel) -> NotificationChannelType:
        return cls(
            id=strawberry.ID(str(row.id)),
            tenant_id=strawberry.ID(str(row.tenant_id)),
            kind=ChannelKindEnum(row.kind.value),
            target=row.target,
            min_severity=SeverityEnum(row.min_severity.value),
            enabled=row.enabled,
            site_id=None if row.site_id is None else strawberry.ID(str(row.site_id)),
            created_at=row.created_at,
            secret=row.secret,
            last_error=row.last_error,
            last_error_at=row.last_error_at,
        )


@strawberry.type
class ChannelsQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The notification channels the caller may manage.",
    )
    async def notification_channels(self, info: Info) -> list[NotificationChannelType]:
        ctx = info.context
        rows = await channels.list_channels(
            session=ctx.session, authz=ctx.rt.authz, principal=ctx.principal
        )
        return [NotificationChannelType.of(r) for r in rows]


@strawberry.type
class ChannelsMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_notification_channel(
        self,
        info: Info,
        kind: ChannelKindEnum,
        target: str,
        min_severity: SeverityEnum = SeverityEnum.YELLOW,
        site_id: strawberry.ID | None = None,
        tenant_id: strawberry.ID | None = None,
    ) -> NotificationChannelType:
        ctx = info.context
        async with ctx.write() as session:
            row = await channels.create_channel(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                kind=ChannelKind(kind.value),
                target=target,
                min_severity=Severity(min_severity.value),
                site_id=None if site_id is None else parse_id(site_id, "site"),
                tenant_id=None if tenant_id is None else parse_id(tenant_id, "tenant"),
                egress=EgressPolicy(ctx.rt.settings.webhook_allow_networks),
            )
        return NotificationChannelType.of(row)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def disable_notification_channel(
        self, info: Info, id: strawberry.ID
    ) -> NotificationChannelType:
        ctx = info.context
        async with ctx.write() as session:
            row = await channels.disable_channel(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                channel_id=parse_id(id, "notification channel"),
            )
        return NotificationChannelType.of(row)
