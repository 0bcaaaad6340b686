"""Sign-in throttling (issue 9, item 3) and uniform sign-in work (item 6).

Time is a fake clock handed to the throttle: an attacker "waiting out" a lock moves the clock,
so 200 attempts with growing locks take milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.auth import passwords
from backend.auth import service as auth_service
from backend.auth.invitations import unscoped_invite_user_in_own_transaction
from backend.auth.members import unscoped_add_member_in_own_transaction
from backend.auth.models import User
from backend.auth.principal import Principal
from backend.auth.throttle import Throttle, address_subject, client_address
from backend.core.errors import ConfigurationError, RateLimited, Unauthenticated
from backend.runtime import Runtime
from privacy.audit import AuditEntry
from tests.conftest import make_settings
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient
from tests.mailbox import messages_to

ATTACKER = "203.0.113.7"
HOLDER = "198.51.100.20"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runtime_clock(runtime: Runtime) -> Iterator[Clock]:
    """The GraphQL path's throttle on a fake clock, restored afterwards."""
    clock = Clock()
    throttle = runtime.login_throttle
    real = throttle.clock
    throttle.clock = clock
    yield clock
    throttle.clock = real


async def account(runtime: Runtime, world: World, label: str = "t") -> str:
    email = f"{label}.{unique('th')}@example.cn"
    await unscoped_add_member_in_own_transaction(
        sessions=runtime.sessions,
        principal=Principal.system(),
        domain=f"tenant:{world.a.tenant_id}",
        email=email,
        role="viewer",
        password=PASSWORD,
        log2_n=runtime.log2_n,
    )
    return email


async def attempt(
    runtime: Runtime, throttle: Throttle, email: str, password: str, address: str
) -> str:
    """``ok``, ``wrong`` or ``limited:<seconds>``."""
    try:
        await auth_service.unscoped_login_in_own_transaction(
            sessions=runtime.sessions,
            codec=runtime.tokens,
            email=email,
            password=password,
            log2_n=runtime.log2_n,
            client_address=address,
            throttle=throttle,
        )
    except RateLimited as exc:
        return f"limited:{exc.retry_after_seconds}"
    except Unauthenticated:
        return "wrong"
    return "ok"


async def hammer(
    runtime: Runtime, throttle: Throttle, clock: Clock, email: str, address: str, n: int
) -> list[str]:
    """``n`` wrong passwords from ``address``, waiting out every lock as a patient attacker
    would, so each one is really checked and counted."""
    seen = []
    for i in range(n):
        while (result := await attempt(runtime, throttle, email, f"guess-{i}-x!", address)) != (
            "wrong"
        ):
            assert result.startswith("limited:"), result
            seen.append(result)
            clock.advance(int(result.split(":")[1]))
    return seen


async def test_200_wrong_passwords_then_the_right_one_is_refused_until_the_lock_ends(
    runtime: Runtime, world: World, clock: Clock
) -> None:
    email = await account(runtime, world)
    throttle = Throttle(clock=clock)
    locks = await hammer(runtime, throttle, clock, email, ATTACKER, 200)
    waits = [int(x.split(":")[1]) for x in locks]
    assert waits[0] <= 2 and max(waits) == 900  # growing delays, capped at 15 minutes
    assert waits == sorted(waits)

    right = await attempt(runtime, throttle, email, PASSWORD, ATTACKER)
    assert right.startswith("limited:"), right
    wait = int(right.split(":")[1])
    assert 60 < wait <= 900
    clock.advance(wait - 1)
    assert (await attempt(runtime, throttle, email, PASSWORD, ATTACKER)).startswith("limited:")
    clock.advance(1)
    assert await attempt(runtime, throttle, email, PASSWORD, ATTACKER) == "ok"


async def test_a_refused_attempt_checks_no_password(
    runtime: Runtime, world: World, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = await account(runtime, world)
    throttle = Throttle(clock=clock)
    for i in range(6):
        assert await attempt(runtime, throttle, email, f"wrong-{i}-pass", ATTACKER) == "wrong"
    calls: list[int] = []
    real = passwords._scrypt
    monkeypatch.setattr(passwords, "_scrypt", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert (await attempt(runtime, throttle, email, PASSWORD, ATTACKER)).startswith("limited:")
    assert calls == []


async def test_unknown_addresses_are_throttled_exactly_like_known_ones(
    runtime: Runtime, world: World
) -> None:
    known = await account(runtime, world)
    unknown = f"nobody.{unique('x')}@example.cn"
    results = []
    for email in (known, unknown):
        clock = Clock()
        throttle = Throttle(clock=clock)
        answers = [
            await attempt(runtime, throttle, email, "not-it-1234", ATTACKER) for _ in range(9)
        ]
        clock.advance(1)
        answers += [await attempt(runtime, throttle, email, "not-it-1234", ATTACKER)]
        results.append(answers)
    assert results[0] == results[1]
    assert results[0][:5] == ["wrong"] * 5 and results[0][6].startswith("limited:")


async def test_the_holder_elsewhere_is_never_locked_out_for_long(
    runtime: Runtime, world: World, clock: Clock
) -> None:
    email = await account(runtime, world)
    throttle = Throttle(clock=clock)
    # The holder signed in from home once: that address is familiar.
    assert await attempt(runtime, throttle, email, PASSWORD, HOLDER) == "ok"
    # Many addresses guess (a botnet), each a few times.
    for n in range(30):
        for i in range(3):
            result = await attempt(runtime, throttle, email, f"bot-{i}-pw!", f"192.0.2.{n}")
            if result.startswith("limited:"):
                clock.advance(int(result.split(":")[1]))
    # From the familiar address: at once. From a new address: at most a minute's wait.
    assert await attempt(runtime, throttle, email, PASSWORD, HOLDER) == "ok"
    for n in range(12):  # lock the account-wide bucket again
        await attempt(runtime, throttle, email, "bot-again-1", f"192.0.2.{100 + n}")
    fresh = await attempt(runtime, throttle, email, PASSWORD, "198.51.100.99")
    if fresh != "ok":
        assert fresh.startswith("limited:") and int(fresh.split(":")[1]) <= 60, fresh
        clock.advance(int(fresh.split(":")[1]))
        assert await attempt(runtime, throttle, email, PASSWORD, "198.51.100.99") == "ok"


async def test_the_holder_is_told_once_per_lock(
    api: GraphQLClient, runtime: Runtime, world: World, clock: Clock
) -> None:
    email = await account(runtime, world, "told")
    throttle = Throttle(clock=clock)
    await hammer(runtime, throttle, clock, email, ATTACKER, 40)
    mails = [m for m in await messages_to(runtime, email) if "locked" in str(m["Subject"])]
    assert len(mails) == 1, [m["Subject"] for m in mails]
    async with runtime.sessions() as session:
        user_id = await session.scalar(
            select(User.id).where(await User.email.matches(session, email))
        )
        locks = (
            await session.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.object_id == str(user_id),
                    AuditEntry.action == "auth.sign_in_locked",
                )
            )
        ).all()
    assert len(locks) == 1


async def test_graphql_answers_rate_limited_with_retry_after(
    api: GraphQLClient, runtime: Runtime, world: World, runtime_clock: Clock
) -> None:
    email = await account(runtime, world, "gql")
    for i in range(6):
        assert (await api.login(email, f"wrong-{i}-pass")).code == "UNAUTHENTICATED"
    limited = await api.login(email)
    assert limited.code == "RATE_LIMITED", limited.body
    error = limited.body["errors"][0]
    assert error["extensions"]["retryAfterSeconds"] >= 1
    assert "try again in" in error["message"]
    runtime_clock.advance(error["extensions"]["retryAfterSeconds"])
    assert (await api.login(email)).code is None


# --- uniform work ----------------------------------------------------------------------------


async def test_every_failed_sign_in_costs_the_same_scrypt_work(
    runtime: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = await account(runtime, world, "wrong")
    disabled = await account(runtime, world, "disabled")
    async with runtime.sessions() as session, session.begin():
        user = await session.scalar(select(User).where(await User.email.matches(session, disabled)))
        assert user is not None
        user.disabled = True
    invited = f"invited.{unique('i')}@example.cn"
    await unscoped_invite_user_in_own_transaction(
        sessions=runtime.sessions,
        authz=runtime.authz,
        principal=Principal.system(),
        domain=f"tenant:{world.a.tenant_id}",
        email=invited,
        role="viewer",
        public_url=runtime.settings.link_base,
    )
    # An account left by an invitation of the old kind: a row with no password at all.
    legacy = f"legacy.{unique('l')}@example.cn"
    async with runtime.sessions() as session, session.begin():
        session.add(User(email=legacy, password_hash=None))
    unknown = f"unknown.{unique('u')}@example.cn"

    calls: list[int] = []
    real = passwords._scrypt

    def counting(secret: bytes, salt: bytes, log2_n: int, *rest: int) -> bytes:
        calls.append(log2_n)
        return real(secret, salt, log2_n, *rest)

    monkeypatch.setattr(passwords, "_scrypt", counting)
    work = {}
    for label, email in [
        ("wrong", wrong),
        ("disabled", disabled),
        ("invited", invited),
        ("legacy", legacy),
        ("unknown", unknown),
    ]:
        calls.clear()
        result = await attempt(
            runtime, Throttle(), email, "not-the-right-one", f"10.9.{len(work)}.1"
        )
        assert result == "wrong", (label, result)
        work[label] = list(calls)
    assert len({tuple(v) for v in work.values()}) == 1, work
    assert work["wrong"] == [runtime.log2_n]


# --- client address ----------------------------------------------------------------------------


def test_forwarded_for_is_read_only_from_trusted_proxies() -> None:
    proxies = ["10.0.0.0/8"]
    assert client_address("203.0.113.5", "1.2.3.4", proxies) == "203.0.113.5"
    assert client_address("10.0.0.2", "1.2.3.4", []) == "10.0.0.2"
    assert client_address("10.0.0.2", "1.2.3.4", proxies) == "1.2.3.4"
    # A client-written hop to the left of what our proxies saw is ignored.
    assert client_address("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.9", proxies) == "1.2.3.4"
    assert client_address("10.0.0.2", "garbage", proxies) == "10.0.0.2"
    assert client_address(None, None, proxies) == "unknown"


def test_ipv6_clients_are_counted_by_their_64() -> None:
    assert address_subject("2001:db8:1:2:aaaa::1") == address_subject("2001:db8:1:2:bbbb::9")
    assert address_subject("2001:db8:1:3::1") != address_subject("2001:db8:1:2::1")
    assert address_subject("::ffff:192.0.2.1") == "192.0.2.1"


def test_trusted_proxies_setting(tmp_path, chdb_dir) -> None:  # type: ignore[no-untyped-def]
    assert make_settings(tmp_path, chdb_dir).trusted_proxies == ()
    settings = make_settings(tmp_path, chdb_dir, ANJIAN_TRUSTED_PROXIES="10.0.0.0/8, ::1/128")
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(ConfigurationError, match="ANJIAN_TRUSTED_PROXIES"):
        make_settings(tmp_path, chdb_dir, ANJIAN_TRUSTED_PROXIES="not-a-network")
