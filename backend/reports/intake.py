"""What protects the public report routes: the proof of work (issued, verified, spent once
across processes), per-address rates, the blocklist, and the settings they read.

Public work runs in sessions with an empty scope: no tenant-owned row is reachable from here.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.throttle import UNKNOWN_ADDRESS, Policy, Throttle, address_subject
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.db import retry_lost_race
from backend.core.objects import ObjectStore
from backend.reports import pow
from backend.reports._input import ReportRefused
from backend.reports.blocklist import refuse_blocked
from backend.reports.models import MAX_PHOTOS, ReportChallenge
from privacy.keyring import Keyring
from tenants.scope import Scope, scoped_session

# One address may send this many reports at once, then one more every 3 minutes (20 an hour):
# a mobile carrier's NAT puts many people behind one address, so the allowance is generous;
# the proof of work is what makes a flood expensive. Photos: five per report and retries.
REPORTS_PER_ADDRESS = Policy(free=20, leak_seconds=180, base_seconds=30, cap_seconds=3600)
PHOTOS_PER_ADDRESS = Policy(free=100, leak_seconds=36, base_seconds=30, cap_seconds=3600)
_RATE_MESSAGE = (
    "提交过于频繁，请 {seconds} 秒后再试 / too many submissions from your network; "
    "try again in {seconds} seconds"
)
_CLIENT_PURPOSE = "reports/client-address"
# What the rate limits count (throttle kinds).
REPORT = "report"
PHOTO = "report-photo"


@dataclass
class ReportIntake:
    """What the public routes need: the keyring (challenges, client hashes), the photo store,
    the clock, the proof-of-work difficulty and the rate policies."""

    keyring: Keyring
    objects: ObjectStore
    difficulty: int
    clock: Clock = WALL_CLOCK
    throttle: Throttle = field(default_factory=Throttle)
    reports_policy: Policy = REPORTS_PER_ADDRESS
    photos_policy: Policy = PHOTOS_PER_ADDRESS

    def now(self) -> datetime:
        return self.clock.now()

    def client_hash(self, address: str) -> bytes:
        # The first key version, fixed for good, so one client hashes alike after a rotation.
        key = self.keyring.derive(_CLIENT_PURPOSE, self.keyring.versions[0].version)
        return hmac.new(key, address_subject(address).encode(), hashlib.sha256).digest()


def public_session(sessions: async_sessionmaker[AsyncSession]) -> AsyncSession:
    """A session for the public's requests: no scope, so no tenant-owned row is reachable."""
    return scoped_session(sessions, Scope())


# --- abuse protection --------------------------------------------------------------------------


async def admit_client(
    *,
    sessions: async_sessionmaker[AsyncSession],
    intake: ReportIntake,
    address: str | None,
    kind: str,
) -> None:
    """Refuse a blocked network (``Forbidden``) or an address over its rate (``RateLimited``),
    else count this request against the address. Counted in a transaction of its own, so a
    request refused later for its input still counts."""
    where = address_subject(address or UNKNOWN_ADDRESS)
    policy = intake.reports_policy if kind == REPORT else intake.photos_policy

    async def count() -> None:
        async with public_session(sessions) as session, session.begin():
            await refuse_blocked(session, address or UNKNOWN_ADDRESS)
            await intake.throttle.count(
                session, kind=kind, subject=where, policy=policy, message=_RATE_MESSAGE
            )

    await retry_lost_race(count, conflicts=(IntegrityError,))


def new_challenge(intake: ReportIntake) -> pow.Challenge:
    return pow.issue(intake.keyring, intake.difficulty, intake.now())


def verify_proof(intake: ReportIntake, challenge: object, nonce: object) -> pow.Challenge:
    try:
        return pow.verify(intake.keyring, challenge, nonce, intake.now())
    except pow.ProofRefused as exc:
        raise ReportRefused([("pow", f"工作量证明无效 / {exc}")]) from None


def parse_pow_header(value: str | None) -> tuple[str | None, str | None]:
    """``X-Anjian-PoW: <challenge>:<nonce>``."""
    if not value or ":" not in value:
        return None, None
    challenge, _, nonce = value.strip().partition(":")
    return challenge, nonce


async def spend_challenge(
    session: AsyncSession, challenge: pow.Challenge, now: datetime, *, photo: bool
) -> None:
    """Spend one photo upload or the report of a challenge, or refuse it (``ReportRefused``,
    field ``pow``). A first use inserts the challenge's row; two first uses at once collide
    on its key, and the loser's transaction is run again (it then sees the row)."""
    digest = challenge.digest
    row = ReportChallenge
    if photo:
        spend = (
            update(row)
            .where(row.challenge_hash == digest, row.photos < MAX_PHOTOS)
            .values(photos=row.photos + 1)
        )
        spent = f"这个挑战已用于 {MAX_PHOTOS} 张照片 / it has had its {MAX_PHOTOS} photos"
    else:
        spend = (
            update(row)
            .where(row.challenge_hash == digest, row.reported_at.is_(None))
            .values(reported_at=now)
        )
        spent = "这个挑战已用于一次举报 / this challenge was already used for a report"
    result = await session.execute(spend)
    if result.rowcount:  # type: ignore[attr-defined]
        return
    if await session.scalar(select(row.challenge_hash).where(row.challenge_hash == digest)):
        raise ReportRefused([("pow", f"工作量证明已用过 / {spent}")])
    session.add(
        ReportChallenge(
            challenge_hash=digest,
            photos=1 if photo else 0,
            reported_at=None if photo else now,
            expires_at=challenge.expires_at,
        )
    )
    await session.flush()


async def photo_slots_left(session: AsyncSession, challenge: pow.Challenge) -> bool:
    used = await session.scalar(
        select(ReportChallenge.photos).where(ReportChallenge.challenge_hash == challenge.digest)
    )
    return used is None or used < MAX_PHOTOS
