"""The proof of work every public report (and its photos) needs: no third-party service, so
it works on air-gapped networks.

A challenge is ``<key version>.<difficulty>.<issued, epoch seconds>.<random>.<MAC>``: the
server signs what it issued with a key derived from the master keyring, so issuing one stores
nothing and a forged or altered challenge fails its MAC. A proof is a ``nonce`` such that the
SHA-256 of the UTF-8 bytes of ``challenge + nonce`` starts with ``difficulty`` zero bits. A
challenge is good for ``CHALLENGE_TTL``; what it was spent on (up to five photos, one report)
is kept in the relational store (``ReportChallenge``), so the limit holds across processes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from privacy.keyring import Keyring

CHALLENGE_TTL = timedelta(minutes=10)
# A challenge stamped this far ahead of the clock is still taken (processes' clocks differ).
CLOCK_SKEW = timedelta(seconds=30)
MAX_NONCE = 64
_PURPOSE = "reports/pow"
_MAC_BYTES = 16


class ProofRefused(Exception):
    """Why a proof is not good; the message is for the caller."""


@dataclass(frozen=True)
class Challenge:
    text: str
    difficulty: int
    issued_at: datetime

    @property
    def digest(self) -> bytes:
        """What the store keys its uses by."""
        return hashlib.sha256(self.text.encode("ascii")).digest()

    @property
    def expires_at(self) -> datetime:
        return self.issued_at + CHALLENGE_TTL


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _mac(keyring: Keyring, version: int, body: str) -> str:
    key = keyring.derive(_PURPOSE, version)
    return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:_MAC_BYTES])


def issue(keyring: Keyring, difficulty: int, now: datetime) -> Challenge:
    version = keyring.current.version
    issued = int(now.timestamp())
    body = f"{version}.{difficulty}.{issued}.{_b64(secrets.token_bytes(16))}"
    return Challenge(
        f"{body}.{_mac(keyring, version, body)}", difficulty, datetime.fromtimestamp(issued, UTC)
    )


def leading_zero_bits(digest: bytes) -> int:
    number = int.from_bytes(digest, "big")
    return len(digest) * 8 - number.bit_length()


def solves(challenge: str, nonce: str, difficulty: int) -> bool:
    digest = hashlib.sha256((challenge + nonce).encode("utf-8")).digest()
    return leading_zero_bits(digest) >= difficulty


def verify(keyring: Keyring, challenge: object, nonce: object, now: datetime) -> Challenge:
    """The challenge, once it is one this server issued, still good, and solved by ``nonce``;
    ``ProofRefused`` otherwise."""
    if not isinstance(challenge, str) or not isinstance(nonce, str):
        raise ProofRefused("send the challenge and the nonce that solves it, both strings")
    if not nonce or len(nonce) > MAX_NONCE:
        raise ProofRefused(f"the nonce is 1 to {MAX_NONCE} characters")
    parts = challenge.split(".")
    forged = ProofRefused("this challenge was not issued by this server")
    if len(parts) != 5 or not challenge.isascii():
        raise forged
    version_text, difficulty_text, issued_text, _random, mac = parts
    try:
        version, difficulty, issued = int(version_text), int(difficulty_text), int(issued_text)
    except ValueError:
        raise forged from None
    if not keyring.has(version) or not 1 <= difficulty <= 256:
        raise forged
    body = challenge.rpartition(".")[0]
    if not hmac.compare_digest(_mac(keyring, version, body), mac):
        raise forged
    try:
        issued_at = datetime.fromtimestamp(issued, UTC)
    except (OverflowError, OSError, ValueError):
        raise forged from None
    if issued_at > now + CLOCK_SKEW or now >= issued_at + CHALLENGE_TTL:
        raise ProofRefused("this challenge has expired; ask for a new one")
    if not solves(challenge, nonce, difficulty):
        raise ProofRefused(f"the nonce does not solve the challenge ({difficulty} zero bits)")
    return Challenge(challenge, difficulty, issued_at)


def solve(challenge: str, difficulty: int) -> str:
    """A nonce for ``challenge`` (the portal does this in JavaScript; the benchmark and the
    tests here)."""
    counter = 0
    while True:
        nonce = format(counter, "x")
        if solves(challenge, nonce, difficulty):
            return nonce
        counter += 1
