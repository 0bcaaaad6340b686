"""Each rule's false-positive rate from the reviews of its closed alarms: one grouped
statement, whatever the number of rules."""

from __future__ import annotations

import uuid

from backend.alarms.models import AlarmStatus, Verdict
from backend.auth.principal import Principal
from backend.response.service import rule_review_stats
from backend.runtime import Runtime
from tenants.scope import Scope, scoped_session
from tests.alarms.test_query_counts import counted_statements
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_site
from tests.response.helpers import add_alarm, ask, ok

REVIEWS = """query($site: ID!) {
  ruleReviewStats(siteId: $site) { ruleId closed falsePositives rate } }"""


async def closed_alarms(
    rt: Runtime, tenant: uuid.UUID, site: uuid.UUID, verdicts: list[Verdict]
) -> uuid.UUID:
    """A rule with one closed alarm per verdict; returns the rule id."""
    rule: uuid.UUID | None = None
    for verdict in verdicts:
        _, rule = await add_alarm(
            rt, tenant, site, rule_id=rule, status=AlarmStatus.CLOSED, verdict=verdict, cause="c"
        )
    assert rule is not None
    return rule


TP, FP = Verdict.TRUE_POSITIVE, Verdict.FALSE_POSITIVE


async def test_the_false_positive_rate_of_each_rule_from_closed_alarms(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = world.a
    site = await new_site(runtime, a.tenant_id)
    noisy = await closed_alarms(runtime, a.tenant_id, site, [FP, FP])
    good = await closed_alarms(runtime, a.tenant_id, site, [TP, FP, TP, TP])
    # Open alarms have no review yet, and another site's reviews are that site's.
    _, pending = await add_alarm(runtime, a.tenant_id, site, status=AlarmStatus.CLEARED)
    await add_alarm(runtime, a.tenant_id, site, rule_id=good)
    await closed_alarms(runtime, a.tenant_id, a.site_id, [FP])

    stats = await ok(api, a.users["viewer"], REVIEWS, site=str(site))
    assert stats == [
        {"ruleId": str(noisy), "closed": 2, "falsePositives": 2, "rate": 1.0},
        {"ruleId": str(good), "closed": 4, "falsePositives": 1, "rate": 0.25},
    ]
    assert str(pending) not in {s["ruleId"] for s in stats}
    assert (
        await ok(api, a.users["viewer"], REVIEWS, site=str(await new_site(runtime, a.tenant_id)))
        == []
    )
    unknown = await ask(api, a.users["owner"], REVIEWS, site=str(uuid.uuid4()))
    assert unknown.code == "NOT_FOUND"


async def test_the_rates_cost_one_grouped_statement_however_many_rules(
    runtime: Runtime, world: World
) -> None:
    a = world.a
    site = await new_site(runtime, a.tenant_id)
    scope = Scope.for_tenant(a.tenant_id)

    async def statements() -> list[str]:
        async with scoped_session(runtime.sessions, scope) as session:
            with counted_statements(runtime) as seen:
                await rule_review_stats(
                    session=session,
                    authz=runtime.authz,
                    principal=Principal.system(scope),
                    site_id=site,
                )
        # PostgreSQL's transaction opens with the row-level security setting: not a query.
        return [
            s for s in seen if s.lstrip().upper().startswith("SELECT") and "set_config" not in s
        ]

    await closed_alarms(runtime, a.tenant_id, site, [FP, TP])
    few = await statements()
    for _ in range(6):
        await closed_alarms(runtime, a.tenant_id, site, [TP, FP, TP])
    many = await statements()
    assert len(few) == len(many) == 2, many  # the site, then the figures
    assert sum("GROUP BY" in s.upper() for s in many) == 1
