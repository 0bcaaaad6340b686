"""What a client sends wrong is answered as its mistake, never as an internal error: request
bodies that are no GraphQL request, NUL characters in text, zone-less timestamps written as
literals, and the queries that used to fail for some callers. Each refusal is logged as what it
is (one INFO line), not as a fault."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.runtime import Runtime
from tenants.models import Zone
from tenants.scope import Scope, scoped_session
from tests.alarm_helpers import DISPATCH, gas_device, raise_alarm
from tests.factories import World
from tests.graphql import GraphQLClient

GRAPHQL_ERROR_KEYS = {"message", "extensions"}


async def post_raw(api: GraphQLClient, body: bytes) -> Any:
    return await api.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )


def assert_bad_request(response: Any) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert set(error) == GRAPHQL_ERROR_KEYS
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    return str(error["message"])


# --- request bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"null", b"1", b'"x"', b"true", b"[1]"])
async def test_a_body_that_is_no_request_object_is_a_400(api: GraphQLClient, body: bytes) -> None:
    message = assert_bad_request(await post_raw(api, body))
    assert "JSON object" in message or "Batching" in message


async def test_deeply_nested_variables_are_a_400(api: GraphQLClient) -> None:
    depth = 10_000
    variables = '{"a":' * depth + "1" + "}" * depth
    body = f'{{"query": "{{ __typename }}", "variables": {variables}}}'.encode()
    assert "nests deeper" in assert_bad_request(await post_raw(api, body))


async def test_a_body_that_is_not_utf8_is_a_400(api: GraphQLClient) -> None:
    body = b'{"query": "{ __typename }", "operationName": "\xff"}'
    assert "UTF-8" in assert_bad_request(await post_raw(api, body))


async def test_a_normal_request_still_works(api: GraphQLClient) -> None:
    response = await post_raw(api, b'{"query": "{ __typename }"}')
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


# --- NUL characters ----------------------------------------------------------------------------

CREATE_ZONE = "mutation($s: ID!, $n: String!) { createZone(siteId: $s, name: $n) { id } }"


async def zones_named(runtime: Runtime, world: World, prefix: str) -> int:
    async with scoped_session(runtime.sessions, Scope.for_tenant(world.a.tenant_id)) as session:
        count = await session.scalar(
            select(func.count()).select_from(Zone).where(Zone.name.startswith(prefix))
        )
    return int(count or 0)


async def test_nul_in_a_variable_is_refused_on_every_store(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    prefix = f"nul-{uuid.uuid4().hex[:6]}"
    result = await api.query(
        CREATE_ZONE,
        {"s": str(world.a.site_id), "n": f"{prefix}\x00x"},
        as_user=world.a.users["owner"],
    )
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert "NUL" in result.body["errors"][0]["message"]
    assert result.data is None
    assert await zones_named(runtime, world, prefix) == 0


async def test_nul_in_a_literal_or_nested_input_is_refused(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    prefix = f"nul-{uuid.uuid4().hex[:6]}"
    owner = world.a.users["owner"]
    literal = (
        f'mutation {{ createZone(siteId: "{world.a.site_id}", name: "{prefix}\\u0000") {{ id }} }}'
    )
    assert (await api.query(literal, as_user=owner)).codes == ["BAD_USER_INPUT"]
    nested = (
        "mutation($s: ID!, $x: [SensorInput!]!) {"
        ' createDevice(siteId: $s, name: "d", sensors: $x) { token } }'
    )
    sensors = [{"code": "N-1", "kind": "temperature", "zone": f"{prefix}\x00"}]
    result = await api.query(nested, {"s": str(world.a.site_id), "x": sensors}, as_user=owner)
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert await zones_named(runtime, world, prefix) == 0
    # The same text without the NUL is accepted.
    ok = await api.query(CREATE_ZONE, {"s": str(world.a.site_id), "n": prefix}, as_user=owner)
    assert ok.code is None, ok.body


# --- timestamps written as literals ------------------------------------------------------------

TELEMETRY_LITERAL = """query {{ telemetry(sensorId: "{sensor}", from: "{start}",
  to: "2030-01-01T00:00:00Z") {{ ts }} }}"""


async def test_a_zone_less_literal_timestamp_is_bad_input_like_the_variable(
    api: GraphQLClient, world: World
) -> None:
    viewer, sensor = world.a.users["viewer"], world.a.sensor_ids["GT-101"]
    literal = await api.query(
        TELEMETRY_LITERAL.format(sensor=sensor, start="2026-11-28T10:00:00"), as_user=viewer
    )
    assert literal.codes == ["BAD_USER_INPUT"], literal.body
    assert "time zone" in literal.body["errors"][0]["message"]
    variable = await api.query(
        "query($f: DateTime!) { telemetry(sensorId: "
        f'"{sensor}", from: $f, to: "2030-01-01T00:00:00Z") {{ ts }} }}',
        {"f": "2026-11-28T10:00:00"},
        as_user=viewer,
    )
    assert variable.codes == ["BAD_USER_INPUT"], variable.body
    fine = await api.query(
        TELEMETRY_LITERAL.format(sensor=sensor, start="2026-11-28T10:00:00Z"), as_user=viewer
    )
    assert fine.code is None, fine.body


# --- queries that failed for some callers -----------------------------------------------------

STATS = """query($f: DateTime!, $t: DateTime!) { alarmStats(from: $f, to: $t) {
  raised acknowledged cleared mttaSeconds mttrSeconds bySeverity { severity count } } }"""


async def test_the_platform_administrator_gets_alarm_stats(
    api: GraphQLClient, world: World
) -> None:
    result = await api.query(
        STATS,
        {"f": "2020-01-01T00:00:00Z", "t": "2030-01-01T00:00:00Z"},
        as_user=world.platform_admin,
    )
    assert result.code is None, result.body
    stats = result.data["alarmStats"]  # type: ignore[index]
    assert stats["raised"] == 0 and stats["bySeverity"] == []


async def test_an_operator_lists_alarms_after_a_free_text_assignee(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    operator = world.a.users["operator"]
    dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    alarm = await raise_alarm(api, operator, dev, 30.0)
    dispatched = await api.query(
        DISPATCH, {"id": alarm["id"], "assignee": "维修二班 (夜班) #2"}, as_user=operator
    )
    assert dispatched.code is None, dispatched.body
    listed = await api.query(
        "{ alarms(status: ALL, first: 1000) { id assignee } }", as_user=operator
    )
    assert listed.code is None, listed.body
    mine = [a for a in listed.data["alarms"] if a["id"] == alarm["id"]]  # type: ignore[index]
    assert len(mine) == 1
    # A free text is not a name the mask can shorten: the operator does not see it whole.
    assert mine[0]["assignee"] != "维修二班 (夜班) #2"
    named = await api.query(DISPATCH, {"id": alarm["id"], "assignee": "王小明"}, as_user=operator)
    assert named.code is None, named.body


# --- logging -----------------------------------------------------------------------------------


async def test_caller_mistakes_are_logged_as_one_info_line(
    api: GraphQLClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    wrong = await api.login(world.a.users["viewer"], "not-the-password-1")
    assert wrong.code == "UNAUTHENTICATED"
    missing = await api.query(
        "query($s: ID!) { site(id: $s) { id } }",
        {"s": str(uuid.uuid4())},
        as_user=world.a.users["viewer"],
    )
    assert missing.code in ("NOT_FOUND", None), missing.body
    bad_range = await api.query(
        STATS,
        {"f": "2030-01-01T00:00:00Z", "t": "2020-01-01T00:00:00Z"},
        as_user=world.a.users["viewer"],
    )
    assert bad_range.code == "BAD_USER_INPUT"
    assert_bad_request(await post_raw(api, b"null"))
    # What the requests logged (the session's background workers log on their own).
    mine = [r for r in caplog.records if r.name.startswith(("anjian.api", "strawberry"))]
    assert [r for r in mine if r.levelno >= logging.ERROR] == []
    assert all(r.exc_info is None and r.stack_info is None for r in mine)
    refusals = [r for r in mine if r.name == "anjian.api"]
    assert {r.levelno for r in refusals} == {logging.INFO}
    assert any("UNAUTHENTICATED" in r.getMessage() for r in refusals)
    assert any("BAD_USER_INPUT" in r.getMessage() for r in refusals)


async def test_faults_are_logged_at_error_with_their_traceback(
    api: GraphQLClient, world: World, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    from backend.alarms import service

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the database fell over")

    monkeypatch.setattr(service, "alarm_stats", broken)
    caplog.set_level(logging.INFO)
    result = await api.query(
        STATS,
        {"f": "2020-01-01T00:00:00Z", "t": "2030-01-01T00:00:00Z"},
        as_user=world.a.users["viewer"],
    )
    assert result.codes == ["INTERNAL_SERVER_ERROR"]
    assert result.body["errors"][0]["message"] == "internal error"
    mine = [r for r in caplog.records if r.name.startswith(("anjian.api", "strawberry"))]
    [fault] = [r for r in mine if r.levelno >= logging.ERROR]  # once, not also by Strawberry
    assert fault.name == "anjian.api" and fault.exc_info is not None
    assert "the database fell over" in str(fault.exc_info[1])


async def test_http_faults_are_logged_at_error_and_http_refusals_at_info(
    api: GraphQLClient,
    runtime: Runtime,
    world: World,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: Any,
) -> None:
    """Litestar logs nothing outside debug mode: a fault in an ingest handler used to leave a
    500 and no trace."""

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the spool disk is gone")

    caplog.set_level(logging.INFO)
    missing = await api.http.get("/no/such/page")
    assert missing.status_code == 404
    monkeypatch.setattr(runtime.ingest, "telemetry", broken)
    fault = await api.http.post(
        "/api/v1/telemetry",
        content=b"{}",
        headers={"Authorization": f"Bearer {world.a.device_token}"},
    )
    assert fault.status_code == 500
    assert "spool disk" not in fault.text  # the client learns nothing of the internals
    mine = [r for r in caplog.records if r.name == "anjian.api"]
    [info] = [r for r in mine if r.levelno == logging.INFO and "404" in r.getMessage()]
    assert info.exc_info is None
    [error] = [r for r in mine if r.levelno >= logging.ERROR]
    assert "/api/v1/telemetry" in error.getMessage()
    assert error.exc_info is not None and "spool disk" in str(error.exc_info[1])
