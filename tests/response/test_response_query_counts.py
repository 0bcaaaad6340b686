"""A page of work orders with their site, alarm, checklist, timeline and comments costs the
same number of statements for 10 orders as for 50 (per-request loaders, no N+1)."""

from __future__ import annotations

from backend.runtime import Runtime
from tests.alarms.test_query_counts import counted_statements
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_site
from tests.response.helpers import COMMENT, CREATE, add_alarm, ok

PAGE = """query($site: ID, $first: Int) {
  workOrders(siteId: $site, first: $first) {
    id title status dueAt overdue checklist { index text done }
    site { id name } alarm { id severity status verdict cause } incident { id }
    timeline { kind actor note } comments { text photos }
  }
}"""
# The page's reads, plus the audit of the personal fields it shows (free text: titles, notes,
# comments, the alarm's cause): two statements per type read, at the end of the request.
MAX_STATEMENTS = 24


async def test_a_page_of_work_orders_costs_the_same_for_10_and_50(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = world.a
    site = await new_site(runtime, a.tenant_id)
    operator = a.users["operator"]
    for i in range(50):
        alarm, _ = await add_alarm(runtime, a.tenant_id, site)
        made = await ok(
            api, operator, CREATE, title=f"工单{i}", alarm=str(alarm), checklist=["检查"]
        )
        await ok(api, operator, COMMENT, id=made["id"], text="已到场")
    token = await api.token_for(a.users["viewer"])
    counts: dict[int, int] = {}
    for first in (10, 50):
        with counted_statements(runtime) as statements:
            result = await api.query(PAGE, {"site": str(site), "first": first}, token=token)
        assert not result.codes, result.body
        rows = result.data["workOrders"]  # type: ignore[index]
        assert len(rows) == first
        assert all(r["alarm"] and r["site"]["id"] == str(site) for r in rows)
        assert all([c["text"] for c in r["comments"]] == ["已到场"] for r in rows)
        counts[first] = len(statements)
    assert counts[10] == counts[50], counts
    assert 0 < counts[50] <= MAX_STATEMENTS, counts
