"""``alarmEvents`` over graphql-transport-ws (CONTRACT.md): the token comes in connection_init,
events arrive in the order the alarm changed, and each subscriber gets only what it may see.

The subscriptions run in-process on the ``api`` client's app (the same event loop as its alarm
pipeline and outbox feed). "Never receives" is checked against a later event the subscriber
must receive: the feed shows changes in outbox order, so anything it was wrongly sent before
that event would have arrived first. A server's subscribers see every committed change, also
one made outside it and delivered to the job broker by another server's relay (issue 9, 16).
"""

from __future__ import annotations

import asyncio
import queue
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import WebSocketTestSession
from sqlalchemy import select

from backend.alarms import service
from backend.alarms.models import Alarm
from backend.alarms.schema import _alarms as alarms_schema
from backend.auth.principal import Principal
from backend.jobs.outbox_relay import OutboxRelay
from backend.runtime import Runtime
from tenants.scope import Scope, scoped_session, unscoped_session
from tests.alarm_helpers import ACKNOWLEDGE, CLOSE, gas_device, ok, raise_alarm, send
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import eventually

PROTOCOL = "graphql-transport-ws"
EVENTS = "subscription { alarmEvents { kind alarm { id severity status } } }"
WAIT = 20.0  # seconds an expected event may take at most


class Subscriber:
    """One graphql-transport-ws connection with one ``alarmEvents`` subscription."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []  # {"kind", "alarm": {...}} in arrival order

    async def _message(self, wait: float) -> dict[str, Any]:
        # The socket's queue is filled from the app's loop; wait for it off this loop.
        return await asyncio.to_thread(self.ws.receive_json, timeout=wait)  # type: ignore[no-any-return]

    async def until(self, done: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Receive events until one satisfies ``done``; returns everything received so far."""
        deadline = time.monotonic() + WAIT
        while not any(done(e) for e in self.received):
            remaining = deadline - time.monotonic()
            try:
                message = await self._message(max(remaining, 0.01))
            except queue.Empty:
                pytest.fail(f"no matching alarm event within {WAIT}s; got {self.received}")
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            self.received.append(message["payload"]["data"]["alarmEvents"])
        return self.received


@asynccontextmanager
async def subscribed(
    api: GraphQLClient, runtime: Runtime, email: str, token: str | None = None
) -> AsyncIterator[Subscriber]:
    token = token or await api.token_for(email)
    listeners = runtime.alarm_broadcaster._queues  # the app's subscriptions, for readiness only
    before = len(listeners)
    with await api.http.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        ack = await asyncio.to_thread(ws.receive_json, timeout=WAIT)
        assert ack["type"] == "connection_ack", ack
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}})
        # graphql-transport-ws does not confirm a subscription: wait until the app holds it,
        # or an event published meanwhile would be missed.
        live = await eventually(lambda: len(listeners) > before, bool, within=WAIT)
        assert live, "the subscription never started"
        try:
            yield Subscriber(ws)
        finally:
            ws.send_json({"id": "1", "type": "complete"})


def of(alarm_id: str, kind: str | None = None) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["alarm"]["id"] == alarm_id and (kind is None or e["kind"] == kind)


async def tenants_of(runtime: Runtime, events: list[dict[str, Any]]) -> set[uuid.UUID]:
    ids = {uuid.UUID(e["alarm"]["id"]) for e in events}
    async with unscoped_session(runtime.sessions) as session:
        rows = await session.scalars(select(Alarm.tenant_id).where(Alarm.id.in_(ids)))
        return set(rows.all())


async def test_the_owner_follows_an_alarm_through_its_lifecycle(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    owner = world.a.users["owner"]
    dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    async with subscribed(api, runtime, owner) as sub:
        alarm = await raise_alarm(api, owner, dev, 30.0, 55.0)
        await ok(api, owner, ACKNOWLEDGE, id=alarm["id"])
        await send(api, dev, 5.0)
        await ok(api, owner, CLOSE, id=alarm["id"], verdict="TRUE_POSITIVE", cause="valve")
        events = await sub.until(of(alarm["id"], "CLOSED"))
    mine = [(e["kind"], e["alarm"]["severity"], e["alarm"]["status"]) for e in events]
    mine = [m for m, e in zip(mine, events, strict=True) if e["alarm"]["id"] == alarm["id"]]
    assert mine == [
        ("RAISED", "ORANGE", "ACTIVE_UNACKNOWLEDGED"),
        ("SEVERITY_CHANGED", "RED", "ACTIVE_UNACKNOWLEDGED"),
        ("ACKNOWLEDGED", "RED", "ACKNOWLEDGED"),
        ("CLEARED", "RED", "CLEARED"),
        ("CLOSED", "RED", "CLOSED"),
    ]


async def test_subscribers_receive_only_what_they_may_see(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a_owner, b_owner = world.a.users["owner"], world.b.users["owner"]
    a_dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    b_dev = await gas_device(api, runtime, world.b.tenant_id, world.b.site_id)
    async with (
        subscribed(api, runtime, a_owner) as a_sub,
        subscribed(api, runtime, world.a.users["viewer"]) as a_viewer,
        subscribed(api, runtime, b_owner) as b_sub,
        subscribed(api, runtime, world.regulators["320500"]) as suzhou,
        subscribed(api, runtime, world.regulators["320000"]) as province,
    ):
        a_alarm = await raise_alarm(api, a_owner, a_dev, 30.0, 60.0)
        b_alarm = await raise_alarm(api, b_owner, b_dev, 40.0)
        # A's events were committed before B's: by B's RAISED, any A event would be in.
        for sub in (b_sub, suzhou):
            events = await sub.until(of(b_alarm["id"], "RAISED"))
            assert await tenants_of(runtime, events) == {world.b.tenant_id}, events
        everything = await province.until(of(b_alarm["id"], "RAISED"))
        assert [e["kind"] for e in everything if of(a_alarm["id"])(e)] == [
            "RAISED",
            "SEVERITY_CHANGED",
        ]
        # And the other way round: an A event after B's, then look at what A's users got.
        await ok(api, a_owner, ACKNOWLEDGE, id=a_alarm["id"])
        for sub in (a_sub, a_viewer):
            events = await sub.until(of(a_alarm["id"], "ACKNOWLEDGED"))
            assert await tenants_of(runtime, events) == {world.a.tenant_id}, events
            assert [e["kind"] for e in events if of(a_alarm["id"])(e)] == [
                "RAISED",
                "SEVERITY_CHANGED",
                "ACKNOWLEDGED",
            ]


async def test_a_change_made_and_relayed_elsewhere_reaches_this_servers_subscribers(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    """Cleared by the CLI, and handed to the broker by another server's relay at once: the
    outbox row is sent before this server's relay ever looks, and still its subscribers see
    the change."""
    owner = world.a.users["owner"]
    dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    async with subscribed(api, runtime, owner) as sub:
        alarm = await raise_alarm(api, owner, dev, 30.0)
        scope = Scope.for_tenant(world.a.tenant_id)
        async with scoped_session(runtime.sessions, scope) as session, session.begin():
            await service.clear_alarm(
                session=session,
                authz=runtime.authz,
                principal=Principal.system(scope),
                alarm_id=uuid.UUID(alarm["id"]),
                reason="cleared from the command line",
            )
        # Usually this relay hands the row on first; when the app's own poll wins the race the
        # subscribers must see the change all the same, so who relayed is not asserted.
        await OutboxRelay(runtime.sessions, asyncio.Event()).relay_once()
        events = await sub.until(of(alarm["id"], "CLEARED"))
    assert [e["kind"] for e in events if of(alarm["id"])(e)] == ["RAISED", "CLEARED"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"authorization": "Bearer not-a-token"},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": ""},
    ],
    ids=["missing", "bad-token", "not-bearer", "empty"],
)
async def test_a_connection_without_a_valid_token_is_rejected(
    api: GraphQLClient, payload: dict[str, Any]
) -> None:
    with await api.http.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        ws.send_json({"type": "connection_init", "payload": payload})
        with pytest.raises(WebSocketDisconnect) as closed:
            message = await asyncio.to_thread(ws.receive_json, timeout=WAIT)
            ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}})
            message = await asyncio.to_thread(ws.receive_json, timeout=WAIT)
            pytest.fail(f"an unauthenticated connection was served: {message}")
        assert closed.value.code == 4403, closed.value


async def test_a_signed_out_session_stops_receiving_events(
    api: GraphQLClient, runtime: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sign-out (like removal or disabling) reaches open subscriptions: the next event finds the
    session ended, and the subscription stops with UNAUTHENTICATED instead of the event."""
    monkeypatch.setattr(alarms_schema, "PRINCIPAL_RECHECK_SECONDS", 0.0)
    owner = world.a.users["owner"]
    signed_in = await api.login(owner)
    assert signed_in.data, signed_in.body
    token = signed_in.data["login"]["token"]
    dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    async with subscribed(api, runtime, owner, token=token) as sub:
        alarm = await raise_alarm(api, owner, dev, 30.0)
        await sub.until(of(alarm["id"], "RAISED"))
        out = await api.query("mutation { logout }", token=token)
        assert out.data == {"logout": True}, out.body
        await send(api, dev, 60.0)  # an upgrade this session would otherwise be sent
        message = await sub._message(WAIT)
    assert message["type"] in {"next", "error"}, message
    payload = message["payload"]
    errors = payload if isinstance(payload, list) else payload.get("errors")
    assert errors and "revoked" in errors[0]["message"], message
    assert "data" not in payload or not payload.get("data"), message
