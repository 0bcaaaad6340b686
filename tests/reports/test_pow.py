"""The proof of work: what solves a challenge, what the server refuses, and its setting."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backend.core.errors import ConfigurationError
from backend.reports import pow
from privacy.keyring import load_keyring
from tests.conftest import make_settings


def test_leading_zero_bits() -> None:
    assert pow.leading_zero_bits(b"\x00\x00\xff" + b"\x00" * 29) == 16
    assert pow.leading_zero_bits(b"\x00\x01" + b"\xff" * 30) == 15
    assert pow.leading_zero_bits(b"\x80" + b"\x00" * 31) == 0
    assert pow.leading_zero_bits(b"\x00" * 32) == 256


def test_a_proof_at_the_default_difficulty(tmp_path: Path) -> None:
    keyring = load_keyring(tmp_path / "keyring.json")
    now = datetime.now(UTC)
    challenge = pow.issue(keyring, 18, now)
    nonce = pow.solve(challenge.text, 18)
    digest = hashlib.sha256((challenge.text + nonce).encode()).digest()
    assert int.from_bytes(digest, "big") >> (256 - 18) == 0
    assert pow.verify(keyring, challenge.text, nonce, now).difficulty == 18
    # Another server's keyring did not issue it.
    other = load_keyring(tmp_path / "other.json")
    with pytest.raises(pow.ProofRefused, match="not issued"):
        pow.verify(other, challenge.text, nonce, now)
    # Good for ten minutes, not before it was issued.
    with pytest.raises(pow.ProofRefused, match="expired"):
        pow.verify(keyring, challenge.text, nonce, now + timedelta(minutes=10))
    with pytest.raises(pow.ProofRefused, match="expired"):
        pow.verify(keyring, challenge.text, nonce, now - timedelta(minutes=5))
    for bad in ("", "x" * 65, 42):
        with pytest.raises(pow.ProofRefused):
            pow.verify(keyring, challenge.text, bad, now)


def test_the_difficulty_is_configurable_up_to_22(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, tmp_path / "ch", ANJIAN_REPORT_POW_DIFFICULTY="20")
    assert settings.report_pow_difficulty == 20
    assert make_settings(tmp_path, tmp_path / "ch").report_pow_difficulty == 18
    for bad in ("23", "0", "hard"):
        with pytest.raises(ConfigurationError, match="ANJIAN_REPORT_POW_DIFFICULTY"):
            make_settings(tmp_path, tmp_path / "ch", ANJIAN_REPORT_POW_DIFFICULTY=bad)
