"""Dramatiq jobs: the mail actor in-process, over Redis and RabbitMQ, and from GraphQL."""

from __future__ import annotations

import email
import email.policy
import json
import re
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from backend.core.mail import FileMailer
from backend.jobs.broker import declare_actors, make_broker, start_worker
from backend.runtime import Runtime
from tests.conftest import REDIS_URL, make_settings, service_unavailable
from tests.factories import World, unique
from tests.graphql import GraphQLClient

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
SUBJECT = "安监平台测试 / Anjian test"
DEADLINE_SECONDS = 30.0


def read_mail(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- in-process (stub broker) ------------------------------------------------------------------


@pytest.fixture
def stub_jobs(tmp_path: Path):  # type: ignore[no-untyped-def]
    broker = StubBroker()
    jobs = declare_actors(broker, FileMailer(tmp_path / "mail"))
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    yield jobs, worker, tmp_path / "mail"
    worker.stop()
    broker.close()


def test_deliver_mail_writes_the_message(stub_jobs) -> None:  # type: ignore[no-untyped-def]
    jobs, worker, folder = stub_jobs
    key = unique("key")
    body = "第一行\nSecond line with a token: abc123"
    jobs.deliver_mail.send("someone@example.cn", SUBJECT, body, key)
    jobs.broker.join("mail", fail_fast=True)
    worker.join()

    path = FileMailer(folder).path_for(key)
    assert path.exists()
    message = read_mail(path)
    assert message["Subject"] == SUBJECT
    assert message["To"] == "someone@example.cn"
    assert message["X-Idempotency-Key"] == key
    assert body_of(message).strip() == body
    assert list(folder.glob("*.tmp")) == []


def test_same_idempotency_key_writes_one_message(stub_jobs) -> None:  # type: ignore[no-untyped-def]
    jobs, worker, folder = stub_jobs
    key = unique("once")
    jobs.deliver_mail.send("someone@example.cn", SUBJECT, "first delivery", key)
    jobs.broker.join("mail", fail_fast=True)
    worker.join()
    jobs.deliver_mail.send("someone@example.cn", SUBJECT, "second delivery", key)
    jobs.broker.join("mail", fail_fast=True)
    worker.join()

    files = list(folder.glob("*.eml"))
    assert files == [FileMailer(folder).path_for(key)]
    assert body_of(read_mail(files[0])).strip() == "first delivery"

    other = unique("other")
    jobs.deliver_mail.send("someone@example.cn", SUBJECT, "another message", other)
    jobs.broker.join("mail", fail_fast=True)
    worker.join()
    assert len(list(folder.glob("*.eml"))) == 2


def test_stub_url_builds_an_in_process_broker(tmp_path: Path, chdb_dir: Path) -> None:
    settings = make_settings(tmp_path, chdb_dir)
    assert settings.embedded_broker
    broker = make_broker(settings)
    try:
        assert isinstance(broker, StubBroker)
    finally:
        broker.close()


# --- Redis ------------------------------------------------------------------------------------


def redis_client():  # type: ignore[no-untyped-def]
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_unavailable("Redis", str(exc))
    return client


@pytest.mark.redis
def test_redis_round_trip(tmp_path: Path, chdb_dir: Path) -> None:
    from dramatiq.brokers.redis import RedisBroker

    client = redis_client()
    namespace = f"anjian-test-{uuid.uuid4().hex[:12]}"
    settings = make_settings(tmp_path, chdb_dir, ANJIAN_BROKER_URL=REDIS_URL)
    assert not settings.embedded_broker
    broker = make_broker(settings, namespace=namespace)
    try:
        assert isinstance(broker, RedisBroker)
        folder = tmp_path / "mail"
        jobs = declare_actors(broker, FileMailer(folder))
        key = unique("redis")
        jobs.deliver_mail.send("redis@example.cn", SUBJECT, "over redis", key)
        # The message waits in Redis, under our namespace, until a worker takes it.
        assert any(client.scan_iter(match=f"{namespace}*"))
        path = FileMailer(folder).path_for(key)
        assert not path.exists()

        worker = start_worker(broker, threads=1)
        try:
            wait_until(path.exists, "the mail delivered over Redis")
        finally:
            worker.stop()
        message = read_mail(path)
        assert message["Subject"] == SUBJECT
        assert body_of(message).strip() == "over redis"
    finally:
        broker.close()
        for name in client.scan_iter(match=f"{namespace}*"):
            client.delete(name)
        client.close()


# --- RabbitMQ (optional) -----------------------------------------------------------------------


def test_rabbitmq_round_trip(tmp_path: Path, chdb_dir: Path) -> None:
    import pika
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    try:
        pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL + "?connection_attempts=1")).close()
    except pika.exceptions.AMQPError as exc:
        service_unavailable("RabbitMQ", repr(exc))

    settings = make_settings(tmp_path, chdb_dir, ANJIAN_BROKER_URL=RABBITMQ_URL)
    broker = make_broker(settings)
    queue = f"mail_test_{uuid.uuid4().hex[:12]}"
    folder = tmp_path / "mail"
    try:
        assert isinstance(broker, RabbitmqBroker)
        # The product actor's function, on a queue of our own: a shared "mail" queue on the
        # server could hand our message to another process's worker.
        function = declare_actors(StubBroker(), FileMailer(folder)).deliver_mail.fn
        actor = dramatiq.actor(
            function, broker=broker, actor_name=f"deliver_mail_{queue}", queue_name=queue
        )
        key = unique("amqp")
        actor.send("amqp@example.cn", SUBJECT, "over rabbitmq", key)
        path = FileMailer(folder).path_for(key)
        worker = start_worker(broker, threads=1)
        try:
            wait_until(path.exists, "the mail delivered over RabbitMQ")
        finally:
            worker.stop()
        assert body_of(read_mail(path)).strip() == "over rabbitmq"
    finally:
        broker.close()
        connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        channel = connection.channel()
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            channel.queue_delete(name)
        connection.close()


# --- through the app: an invitation e-mail -----------------------------------------------------


async def test_invitation_is_mailed_by_the_embedded_worker(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    import anyio

    invitee = f"mail.{unique('inv')}@example.cn"
    result = await api.query(
        """mutation($d: String!, $e: String!) {
             inviteUser(domain: $d, email: $e, role: "viewer") { email role }
           }""",
        {"d": f"tenant:{world.b.tenant_id}", "e": invitee},
        as_user=world.b.users["owner"],
    )
    assert result.code is None, result.body
    assert result.data == {"inviteUser": {"email": invitee, "role": "viewer"}}

    folder = runtime.settings.mail_dir

    def delivered() -> Path | None:
        for path in folder.glob("*.eml") if folder.exists() else []:
            if read_mail(path)["To"] == invitee:
                return path
        return None

    deadline = time.monotonic() + DEADLINE_SECONDS
    while (path := delivered()) is None:
        assert time.monotonic() < deadline, "the invitation e-mail was not delivered"
        await anyio.sleep(0.05)
    message = read_mail(path)
    # The token is in the invitee's mail, and only there (not in the inviter's answer).
    token = re.search(r"Invitation token: (\S+)", body_of(message))
    assert token is not None, body_of(message)
    assert token.group(1) not in json.dumps(result.body)
    assert "viewer" in body_of(message)
