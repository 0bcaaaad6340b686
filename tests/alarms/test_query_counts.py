"""Hot paths make a bounded number of SQL queries (no N+1): a page of the alarm console with
each alarm's sensor and site costs the same whether it holds 10 alarms or 100.

Statements are counted on the app's engine with a ``before_cursor_execute`` listener, only
those issued while the request runs: a context variable set around the request is inherited
by the tasks it spawns (the dataloaders' batches) and, through SQLAlchemy's greenlets, seen
by the listener; the background loops of the session's runtime never carry it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from backend.alarms.models import Alarm, AlarmRule, AlarmStatus
from backend.alarms.rules import Severity
from backend.runtime import Runtime
from tenants.scope import Scope, scoped_session
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import GAS, TEMP, new_device, new_site

PAGE = """query($site: ID, $first: Int) {
  alarms(status: ALL, siteId: $site, first: $first) {
    id severity status acknowledged acknowledgedAt raisedAt
    sensor { id code } site { id name }
  }
}"""
MAX_QUERIES = 12

_counting: ContextVar[list[str] | None] = ContextVar("_counting", default=None)


@contextmanager
def counted_statements(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL statements the code inside the block runs on the app's engine, but for the
    write that marks the caller's session used: it falls due once a minute of use, on whichever
    request comes then, and is no cost of what a test measures."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen = _counting.get()
        if seen is not None and not _marks_session_used(statement):
            seen.append(statement)

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    token = _counting.set(statements)
    try:
        yield statements
    finally:
        _counting.reset(token)
        event.remove(engine, "before_cursor_execute", count)


def _marks_session_used(statement: str) -> bool:
    words = statement.split()
    return words[:2] == ["UPDATE", "auth_sessions"] and "last_seen_at" in statement


async def _hundred_alarms(runtime: Runtime, world: World) -> uuid.UUID:
    """A site of its own with 100 cleared alarms over the two sensors of one device."""
    tenant = world.a.tenant_id
    device = await new_device(runtime, tenant, await new_site(runtime, tenant), (GAS, TEMP))
    sensors = list(device.sensors.values())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    scope = Scope.for_tenant(tenant)
    async with scoped_session(runtime.sessions, scope) as session, session.begin():
        rules = [
            AlarmRule(
                tenant_id=tenant,
                site_id=device.site_id,
                sensor_id=sensor,
                device_id=device.id,
                kind="threshold",
                definition={"kind": "threshold", "levels": []},
                source="override",
                enabled=False,  # only the rows matter; the engine never loads these rules
            )
            for sensor in sensors
        ]
        session.add_all(rules)
        await session.flush()
        for i in range(100):
            rule = rules[i % len(rules)]
            raised = start + timedelta(minutes=i)
            session.add(
                Alarm(
                    tenant_id=tenant,
                    site_id=device.site_id,
                    rule_id=rule.id,
                    sensor_id=rule.sensor_id,
                    device_id=device.id,
                    severity=Severity.ORANGE,
                    status=AlarmStatus.CLEARED,
                    value=30.0,
                    raised_at=raised,
                    refreshed_at=raised,
                    cleared_at=raised + timedelta(seconds=30),
                )
            )
    return device.site_id


async def test_a_page_of_alarms_with_sensor_and_site_costs_the_same_for_10_and_100(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await _hundred_alarms(runtime, world)
    owner = world.a.users["owner"]
    token = await api.token_for(owner)  # signing in is not part of the page
    counts: dict[int, int] = {}
    for first in (10, 100):
        with counted_statements(runtime) as statements:
            result = await api.query(PAGE, {"site": str(site), "first": first}, token=token)
        assert not result.codes, result.body
        rows = result.data["alarms"]  # type: ignore[index]
        assert len(rows) == first
        assert all(r["sensor"] is not None and r["site"]["id"] == str(site) for r in rows)
        counts[first] = len(statements)
    assert counts[10] == counts[100], counts
    assert 0 < counts[100] <= MAX_QUERIES, counts
