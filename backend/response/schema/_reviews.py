"""GraphQL: each rule's false-positive rate, from the reviews of its closed alarms."""

from __future__ import annotations

import strawberry

from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.ids import parse_id
from backend.response import service


@strawberry.type(name="RuleReviewStat")
class RuleReviewStatType:
    rule_id: strawberry.ID
    closed: int = strawberry.field(description="Closed alarms of the rule (reviewed).")
    false_positives: int
    rate: float = strawberry.field(description="falsePositives / closed, 0 to 1.")


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
