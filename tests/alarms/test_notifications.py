"""Notifications (issue 4, item 4): outbox → relay → notify job → webhook / e-mail / SMS.

A local webhook receiver counts POSTs by ``Idempotency-Key`` and checks the HMAC signature.
Alarms are raised through the alarm service with engine signals on tenant A's gas sensor.
These tests run on a runtime (database) of their own, so no other relay (the session app's)
takes their outbox rows. The receivers listen on 127.0.0.1, which the webhook egress guard
refuses unless the platform allows it: this runtime allows loopback (and only loopback)
through ``ANJIAN_WEBHOOK_ALLOW_NETWORKS``, as an administrator would for a receiver on the
server's own host; the SSRF tests use a notifier without that allowance.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import func, select

from backend.alarms import library
from backend.alarms.channels import create_channel, disable_channel, list_channels
from backend.alarms.engine import Signal
from backend.alarms.models import (
    AlarmRule,
    ChannelKind,
    NotificationChannel,
    NotificationDelivery,
    OutboxMessage,
)
from backend.alarms.notify import (
    LogSmsProvider,
    Notifier,
    declare_notify_actor,
    notification_sink,
    verify,
)
from backend.alarms.rules import Severity
from backend.alarms.service import FLAP_WINDOW, SignalContext, apply_signal
from backend.auth.principal import Principal
from backend.auth.service import unscoped_login_in_own_transaction, unscoped_resolve_token
from backend.core.egress import EgressPolicy
from backend.core.errors import BadInput, Forbidden
from backend.core.mail import FileMailer
from backend.jobs.outbox_relay import OutboxRelay
from backend.migrate import migrate
from backend.runtime import Runtime
from tenants.scope import Scope, scoped_session, unscoped_session
from tests.conftest import (
    PG_ADMIN_URL,
    REDIS_URL,
    create_pg_database,
    drop_pg_database,
    make_settings,
    service_unavailable,
)
from tests.factories import PASSWORD, World, build_world
from tests.graphql import GraphQLClient

JOIN_MS = 60_000
LOOPBACK_NETWORKS = "127.0.0.0/8, ::1/128"


# --- a runtime of our own -------------------------------------------------------------------


@pytest.fixture(scope="module")
async def nrt(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory, chdb_dir: Path
) -> AsyncIterator[Runtime]:
    data_dir = tmp_path_factory.mktemp(f"notify-{backend_name}")
    overrides = {}
    pg_url = None
    if backend_name == "postgres":
        pg_url = create_pg_database(PG_ADMIN_URL)
        overrides["ANJIAN_DATABASE_URL"] = pg_url
    settings = make_settings(
        data_dir, chdb_dir, ANJIAN_WEBHOOK_ALLOW_NETWORKS=LOOPBACK_NETWORKS, **overrides
    )
    rt = Runtime(settings)
    migrate(
        owner_engine=rt.owner_engine,
        keyring=rt.keyring,
        clickhouse=rt.clickhouse,
        cluster=settings.clickhouse_cluster,
    )
    yield rt
    await rt.close()
    if pg_url is not None:
        drop_pg_database(PG_ADMIN_URL, pg_url)


@pytest.fixture(scope="module")
async def nworld(nrt: Runtime) -> World:
    return await build_world(nrt)


async def principal_of(rt: Runtime, email: str) -> Principal:
    token = await unscoped_login_in_own_transaction(
        sessions=rt.sessions, codec=rt.tokens, email=email, password=PASSWORD, log2_n=rt.log2_n
    )
    return await unscoped_resolve_token(
        sessions=rt.sessions, codec=rt.tokens, authz=rt.authz, token=token
    )


# --- the webhook receiver -------------------------------------------------------------------


@dataclass
class Receiver:
    secret: str = ""
    fail_first: int = 0  # answer 500 to this many requests first
    attempts: int = 0
    accepted: Counter[str] = field(default_factory=Counter)  # idempotency key -> 2xx answers
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


def start_receiver(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            key = self.headers.get("Idempotency-Key", "")
            with receiver.lock:
                receiver.attempts += 1
                failing = receiver.fail_first > 0
                if failing:
                    receiver.fail_first -= 1
                elif not verify(receiver.secret, body, self.headers.get("X-Anjian-Signature", "")):
                    receiver.bad_signatures += 1
                else:
                    receiver.accepted[key] += 1
                    receiver.bodies[key] = json.loads(body)
                    receiver.events[key] = self.headers.get("X-Anjian-Event", "")
            self.send_response(500 if failing else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[tuple[Receiver, ThreadingHTTPServer]] = []

    class Factory(list[Receiver]):
        def new(self, **kw: Any) -> Receiver:
            r = Receiver(**kw)
            made.append((r, start_receiver(r)))
            self.append(r)
            return r

    yield Factory()
    for _, server in made:
        server.shutdown()
        server.server_close()


# --- jobs, channels, alarms -----------------------------------------------------------------


@dataclass
class Jobs:
    broker: dramatiq.Broker
    actor: dramatiq.Actor  # type: ignore[type-arg]
    notifier: Notifier
    sms: LogSmsProvider
    mail: FileMailer

    async def join(self) -> None:
        await asyncio.to_thread(self.broker.join, "notify", timeout=JOIN_MS, fail_fast=False)


@pytest.fixture
def jobs(nrt: Runtime, tmp_path: Path) -> Iterator[Jobs]:
    broker = StubBroker()
    broker.emit_after("process_boot")
    sms = LogSmsProvider(tmp_path / "sms.log")
    mail = FileMailer(tmp_path / "mail")
    notifier = Notifier(nrt.settings, keys=nrt.keys, mailer=mail, sms=sms)
    # Short back-off so the retry tests do not wait seconds.
    actor = declare_notify_actor(broker, notifier, max_retries=5, min_backoff=10, max_backoff=50)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    yield Jobs(broker, actor, notifier, sms, mail)
    worker.stop()
    broker.close()
    notifier.close()


@pytest.fixture
async def owner(nrt: Runtime, nworld: World) -> Principal:
    return await principal_of(nrt, nworld.a.users["owner"])


@pytest.fixture
async def channels(nrt: Runtime, owner: Principal) -> AsyncIterator[list[NotificationChannel]]:
    """Channels a test creates; disabled afterwards so later tests' events skip them."""
    made: list[NotificationChannel] = []
    yield made
    async with scoped_session(nrt.sessions, owner.scope) as session, session.begin():
        for ch in made:
            await disable_channel(
                session=session, authz=nrt.authz, principal=owner, channel_id=ch.id
            )


async def add_channel(
    rt: Runtime,
    principal: Principal,
    made: list[NotificationChannel],
    kind: ChannelKind,
    target: str,
    min_severity: Severity = Severity.YELLOW,
) -> NotificationChannel:
    async with scoped_session(rt.sessions, principal.scope) as session, session.begin():
        ch = await create_channel(
            session=session,
            authz=rt.authz,
            principal=principal,
            kind=kind,
            target=target,
            min_severity=min_severity,
            egress=EgressPolicy(rt.settings.webhook_allow_networks),
        )
    made.append(ch)
    return ch


_ts = [1_800_000_000_000]


async def gas_rule(rt: Runtime, world: World) -> uuid.UUID:
    """The gas sensor's threshold rule (the alarm pipeline, not running here, would add it)."""
    sensor = world.a.sensor_ids["GT-101"]
    async with scoped_session(rt.sessions, Scope.for_tenant(world.a.tenant_id)) as s, s.begin():
        rule_id = await s.scalar(select(AlarmRule.id).where(AlarmRule.sensor_id == sensor))
        if rule_id is None:
            spec = library.default_rules("chemical", "combustible_gas")[0]
            rule = AlarmRule(
                tenant_id=world.a.tenant_id,
                site_id=world.a.site_id,
                sensor_id=sensor,
                device_id=world.a.device_id,
                kind=spec.kind.value,
                definition=spec.as_json(),
                source="test",
            )
            s.add(rule)
            await s.flush()
            rule_id = rule.id
    return rule_id


async def leak(rt: Runtime, world: World, cycles: int) -> list[int]:
    """``cycles`` times: raise ORANGE, upgrade to RED, clear (three events each) on tenant A's
    gas sensor. Returns the outbox sequence numbers written."""
    tenant, sensor = world.a.tenant_id, world.a.sensor_ids["GT-101"]
    where = SignalContext(tenant, world.a.site_id, world.a.device_id, None)
    async with unscoped_session(rt.sessions) as session:
        before = await session.scalar(select(func.max(OutboxMessage.seq))) or 0
    rule_id = await gas_rule(rt, world)
    steps = [
        ("raise", Severity.ORANGE, 30.0),
        ("upgrade", Severity.RED, 55.0),
        ("clear", None, 5.0),
    ]
    for _ in range(cycles):
        # Cycles further apart than the flapping window: each one pages people.
        _ts[0] += int(FLAP_WINDOW.total_seconds() * 1000)
        for kind, severity, value in steps:
            _ts[0] += 1000
            signal = Signal(rule_id, sensor, world.a.device_id, kind, kind, severity, value, _ts[0])  # type: ignore[arg-type]
            async with scoped_session(rt.sessions, Scope.for_tenant(tenant)) as s, s.begin():
                await apply_signal(session=s, signal=signal, where=where)
    async with unscoped_session(rt.sessions) as session:
        seqs = await session.scalars(
            select(OutboxMessage.seq).where(OutboxMessage.seq > before).order_by(OutboxMessage.seq)
        )
        return list(seqs)


async def relay_all(relay: OutboxRelay) -> int:
    total = 0
    while (n := await relay.relay_once()) > 0:
        total += n
    return total


def relay_with(rt: Runtime, *sinks: Any) -> OutboxRelay:
    return OutboxRelay(rt.sessions, asyncio.Event(), sinks=list(sinks))


async def unsent(rt: Runtime, seqs: list[int]) -> int:
    async with unscoped_session(rt.sessions) as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.seq.in_(seqs), OutboxMessage.sent_at.is_(None))
            )
            or 0
        )


def keys(seqs: list[int], channel: NotificationChannel) -> set[str]:
    return {f"{s}:{channel.id}" for s in seqs}


# --- tests ----------------------------------------------------------------------------------


async def test_every_event_reaches_each_channel_once_signed(
    nrt: Runtime,
    nworld: World,
    owner: Principal,
    jobs: Jobs,
    channels: list[NotificationChannel],
    receivers: Any,
) -> None:
    hook = receivers.new()
    webhook = await add_channel(nrt, owner, channels, ChannelKind.WEBHOOK, hook.url)
    assert webhook.secret and len(webhook.secret) >= 32
    hook.secret = webhook.secret
    red_only = receivers.new()
    red_hook = await add_channel(
        nrt, owner, channels, ChannelKind.WEBHOOK, red_only.url, Severity.RED
    )
    red_only.secret = red_hook.secret or ""
    email = await add_channel(nrt, owner, channels, ChannelKind.EMAIL, "duty@example.cn")
    sms = await add_channel(nrt, owner, channels, ChannelKind.SMS, "+86 138-0000-0000")
    assert sms.target == "+8613800000000"

    seqs = await leak(nrt, nworld, 1)
    assert len(seqs) == 3
    assert await relay_all(relay_with(nrt, notification_sink(jobs.actor))) >= 3
    await jobs.join()

    assert hook.bad_signatures == 0
    assert dict(hook.accepted) == {k: 1 for k in keys(seqs, webhook)}
    by_seq = [hook.events[f"{s}:{webhook.id}"] for s in seqs]
    assert by_seq == ["RAISED", "SEVERITY_CHANGED", "CLEARED"]
    raised = hook.bodies[f"{seqs[0]}:{webhook.id}"]
    assert raised["alarm"]["severity"] == "ORANGE"
    assert raised["alarm"]["sensor_code"] == "GT-101"
    assert raised["tenant_id"] == str(nworld.a.tenant_id)
    assert "橙色" in raised["text"] and "ORANGE alarm raised" in raised["text"]
    # The RED-only channel gets the upgrade and the clear of the RED alarm, not the ORANGE raise.
    assert set(red_only.accepted) == keys(seqs[1:], red_hook)

    for key in keys(seqs, email):
        assert jobs.mail.path_for(key).exists(), key
    texts = [m for m in jobs.sms.messages() if m["idempotency_key"] in keys(seqs, sms)]
    assert len(texts) == 3
    assert all(m["to"] == "+8613800000000" for m in texts)


async def test_a_failing_webhook_is_retried_and_delivered_once(
    nrt: Runtime,
    nworld: World,
    owner: Principal,
    jobs: Jobs,
    channels: list[NotificationChannel],
    receivers: Any,
) -> None:
    flaky = receivers.new(fail_first=2)
    flaky_ch = await add_channel(nrt, owner, channels, ChannelKind.WEBHOOK, flaky.url)
    flaky.secret = flaky_ch.secret or ""
    steady = receivers.new()
    steady_ch = await add_channel(nrt, owner, channels, ChannelKind.WEBHOOK, steady.url)
    steady.secret = steady_ch.secret or ""

    seqs = await leak(nrt, nworld, 1)
    relay = relay_with(nrt, notification_sink(jobs.actor))
    await relay_all(relay)
    await jobs.join()

    assert flaky.attempts == len(seqs) + 2  # two 500s, then each event accepted once
    assert dict(flaky.accepted) == {k: 1 for k in keys(seqs, flaky_ch)}
    # The channel that worked on the first try is not sent again by the retries.
    assert dict(steady.accepted) == {k: 1 for k in keys(seqs, steady_ch)}
    assert steady.attempts == len(seqs)


async def test_broker_down_during_a_burst_loses_and_doubles_nothing(
    nrt: Runtime,
    nworld: World,
    owner: Principal,
    jobs: Jobs,
    channels: list[NotificationChannel],
    receivers: Any,
) -> None:
    hooks = [receivers.new(), receivers.new()]
    chans = []
    for hook in hooks:
        ch = await add_channel(nrt, owner, channels, ChannelKind.WEBHOOK, hook.url)
        hook.secret = ch.secret or ""
        chans.append(ch)

    broker_up = False
    real_sink = notification_sink(jobs.actor)

    def sink(event: dict[str, Any]) -> None:
        if not broker_up:
            raise ConnectionError("broker down")
        real_sink(event)

    seqs = await leak(nrt, nworld, 5)  # a burst: 15 events
    assert len(seqs) == 15
    relay = relay_with(nrt, sink)
    assert await relay.relay_once() == 0
    assert await unsent(nrt, seqs) == 15  # nothing marked sent, nothing lost
    await jobs.join()
    assert all(h.attempts == 0 for h in hooks)

    broker_up = True  # "restart": the relay resumes from the outbox
    assert await relay_all(relay) >= 15
    assert await unsent(nrt, seqs) == 0
    await jobs.join()
    for hook, ch in zip(hooks, chans, strict=True):
        assert dict(hook.accepted) == {k: 1 for k in keys(seqs, ch)}

    # A relay that enqueued but crashed before marking sent hands the events on again:
    # the deliveries table keeps the receivers at one notification per key.
    for seq in seqs[:5]:
        real_sink({"seq": seq, "tenant_id": str(nworld.a.tenant_id)})
    await jobs.join()
    for hook, ch in zip(hooks, chans, strict=True):
        assert dict(hook.accepted) == {k: 1 for k in keys(seqs, ch)}
        assert hook.attempts == 15


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_redis_broker_leaves_the_rows_unsent(
    nrt: Runtime, nworld: World, jobs: Jobs
) -> None:
    from dramatiq.brokers.redis import RedisBroker

    dead = RedisBroker(url=f"redis://127.0.0.1:{closed_port()}/0", namespace=uuid.uuid4().hex)
    try:
        actor = declare_notify_actor(dead, jobs.notifier)
        seqs = await leak(nrt, nworld, 1)
        relay = relay_with(nrt, notification_sink(actor))
        assert await relay.relay_once() == 0
        assert await unsent(nrt, seqs) == 3
    finally:
        dead.close()
    # Back on a working broker: the rows go out (no channel is enabled here: just relayed).
    assert await relay_all(relay_with(nrt, notification_sink(jobs.actor))) >= 3
    assert await unsent(nrt, seqs) == 0
    await jobs.join()


async def test_round_trip_on_redis(
    nrt: Runtime,
    nworld: World,
    owner: Principal,
    channels: list[NotificationChannel],
    receivers: Any,
    tmp_path: Path,
) -> None:
    import redis
    from dramatiq.brokers.redis import RedisBroker

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_unavailable("Redis", str(exc))
    hook = receivers.new()
    ch = await add_channel(nrt, owner, channels, ChannelKind.WEBHOOK, hook.url)
    hook.secret = ch.secret or ""
    broker = RedisBroker(url=REDIS_URL, namespace=f"anjian-test-{uuid.uuid4().hex[:8]}")
    notifier = Notifier(nrt.settings, keys=nrt.keys, sms=LogSmsProvider(tmp_path / "sms.log"))
    actor = declare_notify_actor(broker, notifier, min_backoff=10, max_backoff=50)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        seqs = await leak(nrt, nworld, 1)
        await relay_all(relay_with(nrt, notification_sink(actor)))
        await asyncio.to_thread(broker.join, "notify", timeout=JOIN_MS)
        worker.join()
        assert dict(hook.accepted) == {k: 1 for k in keys(seqs, ch)}
    finally:
        worker.stop()
        broker.close()
        notifier.close()


# --- managing channels ----------------------------------------------------------------------


async def test_channel_management_is_for_managers_of_the_tenant(
    nrt: Runtime, nworld: World, owner: Principal, channels: list[NotificationChannel]
) -> None:
    ch = await add_channel(nrt, owner, channels, ChannelKind.EMAIL, "ops@example.cn")
    operator = await principal_of(nrt, nworld.a.users["operator"])
    other = await principal_of(nrt, nworld.b.users["owner"])
    async with scoped_session(nrt.sessions, operator.scope) as session, session.begin():
        with pytest.raises(Forbidden):
            await create_channel(
                session=session,
                authz=nrt.authz,
                principal=operator,
                kind=ChannelKind.SMS,
                target="+8613900000000",
            )
        with pytest.raises(Forbidden):
            await disable_channel(
                session=session, authz=nrt.authz, principal=operator, channel_id=ch.id
            )
        assert await list_channels(session=session, authz=nrt.authz, principal=operator) == []
    async with scoped_session(nrt.sessions, other.scope) as session, session.begin():
        assert ch.id not in {
            c.id for c in await list_channels(session=session, authz=nrt.authz, principal=other)
        }
    async with scoped_session(nrt.sessions, owner.scope) as session, session.begin():
        for kind, target in [
            (ChannelKind.WEBHOOK, "ftp://example.cn/x"),
            (ChannelKind.EMAIL, "not-an-address"),
            (ChannelKind.SMS, "call me"),
        ]:
            with pytest.raises(BadInput):
                await create_channel(
                    session=session, authz=nrt.authz, principal=owner, kind=kind, target=target
                )
        listed = {
            c.id: c for c in await list_channels(session=session, authz=nrt.authz, principal=owner)
        }
        assert listed[ch.id].enabled is True
        await disable_channel(session=session, authz=nrt.authz, principal=owner, channel_id=ch.id)
    async with scoped_session(nrt.sessions, owner.scope) as session:
        listed = {
            c.id: c for c in await list_channels(session=session, authz=nrt.authz, principal=owner)
        }
        assert listed[ch.id].enabled is False


async def test_a_disabled_channel_gets_nothing(
    nrt: Runtime,
    nworld: World,
    owner: Principal,
    jobs: Jobs,
    channels: list[NotificationChannel],
    receivers: Any,
) -> None:
    hook = receivers.new()
    ch = await add_channel(nrt, owner, channels, ChannelKind.WEBHOOK, hook.url)
    hook.secret = ch.secret or ""
    async with scoped_session(nrt.sessions, owner.scope) as session, session.begin():
        await disable_channel(session=session, authz=nrt.authz, principal=owner, channel_id=ch.id)
    await leak(nrt, nworld, 1)
    await relay_all(relay_with(nrt, notification_sink(jobs.actor)))
    await jobs.join()
    assert hook.attempts == 0


# --- SSRF: webhooks reach the public internet only -------------------------------------------


@pytest.fixture
def strict_jobs(nrt: Runtime, tmp_path: Path) -> Iterator[Jobs]:
    """A notify worker of a platform that allows no inside network (the default)."""
    settings = replace(nrt.settings, webhook_allow_networks=())
    broker = StubBroker()
    broker.emit_after("process_boot")
    sms = LogSmsProvider(tmp_path / "sms.log")
    mail = FileMailer(tmp_path / "mail")
    notifier = Notifier(settings, keys=nrt.keys, mailer=mail, sms=sms)
    actor = declare_notify_actor(broker, notifier, max_retries=5, min_backoff=10, max_backoff=50)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    yield Jobs(broker, actor, notifier, sms, mail)
    worker.stop()
    broker.close()
    notifier.close()


CREATE_WEBHOOK = """mutation($t: String!) {
  createNotificationChannel(kind: WEBHOOK, target: $t) { id target } }"""


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://10.0.0.8/hook",
        "http://[::1]:9000/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0x7f000001/hook",
        "http://localhost/hook",
    ],
)
async def test_a_webhook_to_an_inside_address_is_refused_at_creation(
    api: GraphQLClient, world: World, target: str
) -> None:
    """The probe's chain: an owner points a webhook at the server's own side. The session
    runtime allows no inside network, as a default installation."""
    result = await api.query(CREATE_WEBHOOK, {"t": target}, as_user=world.a.users["owner"])
    assert result.codes == ["BAD_USER_INPUT"], result.body
    error = result.body["errors"][0]
    assert "not on the public internet" in error["message"]
    assert error["extensions"]["field"] == "target"


async def channel_row(rt: Runtime, channel_id: uuid.UUID) -> NotificationChannel:
    async with unscoped_session(rt.sessions) as session:
        row = await session.scalar(
            select(NotificationChannel).where(NotificationChannel.id == channel_id)
        )
    assert row is not None
    return row


async def delivery_errors(rt: Runtime, channel_id: uuid.UUID) -> list[str | None]:
    async with unscoped_session(rt.sessions) as session:
        return list(
            await session.scalars(
                select(NotificationDelivery.error)
                .where(NotificationDelivery.channel_id == channel_id)
                .order_by(NotificationDelivery.outbox_seq)
            )
        )


async def test_a_name_resolving_inside_is_refused_at_delivery_and_not_retried(
    nrt: Runtime,
    nworld: World,
    owner: Principal,
    strict_jobs: Jobs,
    channels: list[NotificationChannel],
    receivers: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS decides at delivery: a public-looking name whose address is loopback is refused
    after resolution, recorded as failed with the reason, and not retried."""
    hook = receivers.new()
    port = hook.url.rsplit(":", 1)[1].split("/")[0]
    resolved: list[str] = []

    def resolve(host: str, _port: int) -> list[ipaddress.IPv4Address]:
        resolved.append(host)
        return [ipaddress.IPv4Address("127.0.0.1")]

    monkeypatch.setattr("backend.core.egress.resolve", resolve)
    ch = await add_channel(
        nrt, owner, channels, ChannelKind.WEBHOOK, f"http://hooks.example.cn:{port}/hook"
    )
    hook.secret = ch.secret or ""
    seqs = await leak(nrt, nworld, 1)
    await relay_all(relay_with(nrt, notification_sink(strict_jobs.actor)))
    await strict_jobs.join()

    assert hook.attempts == 0  # nothing reached the loopback receiver
    assert set(resolved) == {"hooks.example.cn"}
    # One resolution per event: refused for good, not retried with back-off.
    assert len(resolved) == len(seqs)
    errors = await delivery_errors(nrt, ch.id)
    assert len(errors) == len(seqs)
    assert all(e and "127.0.0.1" in e and "loopback" in e for e in errors), errors
    row = await channel_row(nrt, ch.id)
    assert row.last_error and "127.0.0.1" in row.last_error
    assert row.last_error_at is not None


async def test_an_allowed_network_is_delivered_to_by_name(
    nrt: Runtime,
    nworld: World,
    owner: Principal,
    jobs: Jobs,
    channels: list[NotificationChannel],
    receivers: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook = receivers.new()
    port = hook.url.rsplit(":", 1)[1].split("/")[0]
    monkeypatch.setattr(
        "backend.core.egress.resolve", lambda host, _p: [ipaddress.IPv4Address("127.0.0.1")]
    )
    ch = await add_channel(
        nrt, owner, channels, ChannelKind.WEBHOOK, f"http://hooks.example.cn:{port}/hook"
    )
    hook.secret = ch.secret or ""
    seqs = await leak(nrt, nworld, 1)
    await relay_all(relay_with(nrt, notification_sink(jobs.actor)))
    await jobs.join()
    assert dict(hook.accepted) == {k: 1 for k in keys(seqs, ch)}
    assert await delivery_errors(nrt, ch.id) == [None] * len(seqs)


async def test_a_redirect_is_not_followed_and_recorded(
    nrt: Runtime,
    nworld: World,
    owner: Principal,
    jobs: Jobs,
    channels: list[NotificationChannel],
) -> None:
    """A receiver answering 302 towards the metadata service: not followed, not retried."""
    hits: list[str] = []

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        ch = await add_channel(nrt, owner, channels, ChannelKind.WEBHOOK, url)
        seqs = await leak(nrt, nworld, 1)
        await relay_all(relay_with(nrt, notification_sink(jobs.actor)))
        await jobs.join()
    finally:
        server.shutdown()
        server.server_close()
    assert hits == ["/hook"] * len(seqs)  # once per event, never the redirect target
    errors = await delivery_errors(nrt, ch.id)
    assert len(errors) == len(seqs) and all(e and "redirect" in e for e in errors)
