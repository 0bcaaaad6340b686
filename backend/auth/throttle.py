"""Sign-in throttling: growing delays and short locks per account, per client address and per
(account, address) pair, kept in the relational store so every server process agrees.

The design follows what large identity providers do (NIST SP 800-63B §5.2.2, OWASP's
authentication guidance, "smart lockout"):

- **Every attempt is counted before the password is checked** (and taken back when it was
  right), so parallel requests cannot slip extra guesses past a lock, and an attempt during a
  lock is refused without checking the password at all: a locked attacker learns nothing.
- **Three subjects.** The *pair* (this account from this address) takes the attacker's own
  guesses and may lock for up to 15 minutes. The *address* catches one address spraying many
  accounts. The *account* catches guesses from many addresses; its lock is short (at most a
  minute) and does not apply to an address the account signed in from before, so an attacker
  elsewhere can slow the holder down but never lock them out for long.
- **Leaky buckets, not counters.** Each failure adds one; the level drains at the policy's
  rate, so occasional typos are forgotten, a lock's length doubles with every failure past the
  free allowance, and each lock is capped.
- **Unknown addresses are throttled exactly like known ones**: the account subject is the
  normalised e-mail whether or not an account has it, so the answers reveal no account.
- Subjects are sealed with a blind index (``LoginThrottle.subject``): the table holds neither
  e-mail addresses nor client addresses in the clear.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import LoginThrottle
from backend.core.db import utcnow
from backend.core.errors import RateLimited

UNKNOWN_ADDRESS = "unknown"


@dataclass(frozen=True)
class Policy:
    free: int  # failures allowed before any lock
    leak_seconds: float  # one failure forgotten per this many seconds
    base_seconds: float  # the first lock; doubles with each further failure
    cap_seconds: float  # no lock is longer


# A person mistyping gets 5 tries at once, then 1 s, 2 s, 4 s … up to 15 minutes from the same
# address; a typo is forgotten after 15 minutes.
PAIR = Policy(free=5, leak_seconds=900, base_seconds=1, cap_seconds=900)
# Many addresses against one account (a botnet): short locks, so the holder is never shut out.
ACCOUNT = Policy(free=10, leak_seconds=300, base_seconds=1, cap_seconds=60)
# One address against many accounts. Generous: an office or a mine site signs in from one
# NAT address, and its people mistype too.
ADDRESS = Policy(free=50, leak_seconds=20, base_seconds=1, cap_seconds=900)
FAMILIAR_FOR = timedelta(days=30)
NOTICE_EVERY = timedelta(days=1)


def retry_message(seconds: int) -> str:
    return (
        f"登录尝试过多，请 {seconds} 秒后再试 / too many sign-in attempts; "
        f"try again in {seconds} seconds"
    )


def _networks(
    cidrs: Sequence[str | ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def client_address(
    peer: str | None,
    forwarded_for: str | None,
    trusted_proxies: Sequence[str | ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> str:
    """The client's address: the connection's peer, or, when the peer is a trusted proxy, the
    nearest address in ``X-Forwarded-For`` that is not itself a trusted proxy.

    The header is read right to left because each proxy appends the address it saw; anything to
    the left of the first untrusted hop was written by the client and could be anything.
    """
    networks = _networks(trusted_proxies)

    def trusted(value: str) -> bool:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return any(address in net for net in networks)

    current = (peer or "").strip() or UNKNOWN_ADDRESS
    if not forwarded_for or not trusted(current):
        return current
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return current  # a malformed hop: keep the last address a trusted proxy vouched for
        if not trusted(hop):
            return hop
        current = hop
    return current


def address_subject(address: str) -> str:
    """IPv4 addresses as they are; IPv6 by their /64, which one client (one household, one
    cloud instance) gets whole and could otherwise walk through to dodge the throttle."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))
    return str(parsed)


@dataclass
class Attempt:
    """One sign-in attempt admitted by the throttle, to be settled once the password is known."""

    account: LoginThrottle
    address: LoginThrottle
    pair: LoginThrottle
    # Locks this attempt started (it may have been the last free one).
    locked: list[str] = field(default_factory=list)


@dataclass
class Throttle:
    """The policies and the clock (injectable, so tests move time instead of sleeping)."""

    pair: Policy = PAIR
    account: Policy = ACCOUNT
    address: Policy = ADDRESS
    clock: Callable[[], datetime] = utcnow

    def now(self) -> datetime:
        return self.clock()

    async def admit(self, session: AsyncSession, *, email: str, address: str) -> Attempt:
        """Count this attempt against its three subjects, or refuse it while one is locked.

        Raises ``RateLimited`` (``retryAfterSeconds``) without counting the attempt.
        """
        now = self.now()
        where = address_subject(address)
        pair = await self._row(session, "pair", f"pair:{email}|{where}", now)
        account = await self._row(session, "account", f"account:{email}", now)
        addr = await self._row(session, "address", f"address:{where}", now)
        familiar = pair.familiar_until is not None and pair.familiar_until > now
        waits = [self._remaining(pair, now), self._remaining(addr, now)]
        if not familiar:
            waits.append(self._remaining(account, now))
        wait = max(waits)
        if wait > 0:
            raise RateLimited(retry_message(wait), retry_after_seconds=wait)
        attempt = Attempt(account, addr, pair)
        for kind, row, policy in (
            ("pair", pair, self.pair),
            ("account", account, self.account),
            ("address", addr, self.address),
        ):
            if self._count(row, policy, now):
                attempt.locked.append(kind)
        await session.flush()
        return attempt

    async def count(
        self, session: AsyncSession, *, kind: str, subject: str, policy: Policy, message: str
    ) -> None:
        """One action of a single subject (a public report from one client address) under
        ``policy``: refused while the subject is locked (``RateLimited`` with ``message``,
        where ``{seconds}`` is the wait), else counted, which may start a lock. Subjects are
        sealed like the sign-in ones; ``kind`` keeps them apart from those."""
        now = self.now()
        row = await self._row(session, kind, f"{kind}:{subject}", now)
        wait = self._remaining(row, now)
        if wait > 0:
            raise RateLimited(message.format(seconds=wait), retry_after_seconds=wait)
        self._count(row, policy, now)
        await session.flush()

    async def reload(self, session: AsyncSession, attempt: Attempt) -> Attempt:
        """The attempt's rows again, locked, in ``session``: other attempts may have moved
        them since they were counted, and settling must not write stale levels back."""
        rows = []
        for row in (attempt.account, attempt.address, attempt.pair):
            fresh = await session.get(LoginThrottle, row.id, with_for_update=True)
            rows.append(fresh if fresh is not None else await session.merge(row))
        return Attempt(rows[0], rows[1], rows[2], list(attempt.locked))

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the holder's account and this address are clear again, and
        the address becomes familiar to the account. The address's own count only takes this
        attempt back: a success of one account says nothing of the others tried from there."""
        now = self.now()
        for row in (attempt.account, attempt.pair):
            row.level = 0.0
            row.locked_until = None
            row.notified_at = None
        attempt.pair.familiar_until = now + FAMILIAR_FOR
        attempt.pair.expires_at = max(attempt.pair.expires_at, now + FAMILIAR_FOR)
        attempt.address.level = max(0.0, attempt.address.level - 1)
        if "address" in attempt.locked and attempt.address.level <= self.address.free:
            attempt.address.locked_until = None
        attempt.locked = []

    def lock_to_report(self, attempt: Attempt) -> datetime | None:
        """After a failure: when the account's current lock ends, if the holder has not been
        told of it yet (once per lock episode, not per attempt)."""
        account = attempt.account
        now = self.now()
        # One episode lasts until the holder signs in (which clears ``notified_at``) or a day
        # passes: a sustained attack sends one mail a day, not one per lock.
        if account.notified_at is not None and account.notified_at > now - NOTICE_EVERY:
            return None
        ends = [
            r.locked_until
            for kind, r in (("pair", attempt.pair), ("account", account))
            if kind in attempt.locked and r.locked_until is not None
        ]
        if not ends:
            return None
        account.notified_at = now
        account.expires_at = max(account.expires_at, now + NOTICE_EVERY)
        return max(ends)

    async def purge(self, session: AsyncSession) -> None:
        """Forget rows that say nothing any more (run after failures, which create rows)."""
        await session.execute(delete(LoginThrottle).where(LoginThrottle.expires_at < self.now()))

    # --- internals -----------------------------------------------------------------------

    async def _row(
        self, session: AsyncSession, kind: str, subject: str, now: datetime
    ) -> LoginThrottle:
        match = await LoginThrottle.subject.matches(session, subject)
        row = await session.scalar(select(LoginThrottle).where(match).with_for_update())
        if row is not None:
            return row
        # A first attempt for this subject creates its row. Two such attempts at once collide
        # on the unique index; the loser's IntegrityError ends its transaction and the caller
        # counts it again (``login``). No SAVEPOINT: SQLite's driver runs one as a deferred
        # transaction whose write then fails at once ("database is locked") beside any writer.
        row = LoginThrottle(kind=kind, level=0.0, updated_at=now, expires_at=now)
        row.subject = subject
        session.add(row)
        await session.flush()
        return row

    @staticmethod
    def _remaining(row: LoginThrottle, now: datetime) -> int:
        if row.locked_until is None or row.locked_until <= now:
            return 0
        return max(1, math.ceil((row.locked_until - now).total_seconds()))

    def _count(self, row: LoginThrottle, policy: Policy, now: datetime) -> bool:
        """Add this attempt to the row's bucket; True when that starts a lock."""
        elapsed = max(0.0, (now - row.updated_at).total_seconds())
        level = max(0.0, row.level - elapsed / policy.leak_seconds)
        level += 1
        row.level = level
        row.updated_at = now
        locks = level > policy.free
        if locks:
            excess = math.floor(level - policy.free) - 1
            seconds = min(policy.cap_seconds, policy.base_seconds * 2 ** min(excess, 40))
            row.locked_until = now + timedelta(seconds=seconds)
        drained = now + timedelta(seconds=level * policy.leak_seconds)
        ends = [drained, row.locked_until or now, row.familiar_until or now]
        row.expires_at = max(ends)
        return locks
