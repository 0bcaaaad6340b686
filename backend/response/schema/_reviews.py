"""GraphQL: each rule's false-positive rate, from the reviews of its closed alarms."""

from __future__ import annotations

import uuid

import strawberry

from backend.alarms.models import AlarmRule
from backend.alarms.rules import RuleSpec
from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.ids import parse_id
from backend.response import service
from backend.telemetry.models import Sensor


@strawberry.type(name="RuleReviewStat")
class RuleReviewStatType:
    rule_id: strawberry.ID
    closed: int = strawberry.field(description="Closed alarms of the rule (reviewed).")
    false_positives: int
    rate: float = strawberry.field(description="falsePositives / closed, 0 to 1.")

    async def _rule(self, info: Info) -> AlarmRule | None:
        return await info.context.rows_by_id(AlarmRule).load(uuid.UUID(self.rule_id))

    @strawberry.field(description="threshold, rate_of_change, event, composite...")
    async def rule_kind(self, info: Info) -> str | None:
        rule = await self._rule(info)
        return None if rule is None else rule.kind

    @strawberry.field(description="The code of the rule's sensor; null for device or zone rules.")
    async def sensor_code(self, info: Info) -> str | None:
        rule = await self._rule(info)
        if rule is None or rule.sensor_id is None:
            return None
        sensor = await info.context.rows_by_id(Sensor).load(rule.sensor_id)
        return None if sensor is None else sensor.code

    @strawberry.field(description="The names of the rule's levels, in its order.")
    async def level_names(self, info: Info) -> list[str]:
        rule = await self._rule(info)
        if rule is None:
            return []
        return [level.name for level in RuleSpec.from_json(rule.definition).levels]


@strawberry.type
class ReviewsQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Per rule of the site: closed alarms, how many were false positives, and "
        "the rate; worst first.",
    )
    async def rule_review_stats(
        self, info: Info, site_id: strawberry.ID
    ) -> list[RuleReviewStatType]:
        ctx = info.context
        rows = await service.rule_review_stats(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            site_id=parse_id(site_id, "site"),
        )
        return [
            RuleReviewStatType(
                rule_id=strawberry.ID(str(r.rule_id)),
                closed=r.closed,
                false_positives=r.false_positives,
                rate=r.rate,
            )
            for r in rows
        ]
