"""Passwords: the NIST SP 800-63B policy and scrypt hashing (cryptography's implementation).

Policy (SP 800-63B §5.1.1.2, "memorized secret verifiers"): at least 8 characters after
Unicode NFKC normalisation, up to ``MAX_PASSWORD_LENGTH`` (the guideline asks for at least 64),
no composition rules (no "one digit, one capital"), and a refusal of passwords that are known
to be common or breached, repetitive or sequential, or derived from the account's own context
(its e-mail address, the service's name). Composition rules are left out on purpose: they push
people to predictable patterns (``Password1!``) while a blocklist removes exactly the guesses an
attacker tries first.

The hash string records its own parameters, so the cost can rise without breaking old hashes.
Every verification and every "burn" for an account that cannot sign in runs the same scrypt
work through ``_scrypt``, so the answer's timing tells nothing about the account.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import unicodedata
from functools import cache
from importlib import resources
from itertools import pairwise

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from backend.core.errors import BadInput

DEFAULT_LOG2_N = 15  # about 80 ms per hash on the reference machine
_R, _P, _LEN = 8, 1, 32
MIN_PASSWORD_LENGTH = 8
# Long enough for any passphrase (the guideline's floor is 64); bounded so nobody makes the
# server hash megabytes.
MAX_PASSWORD_LENGTH = 256
# Words of the service itself, refused as the core of a password like the account's address.
_CONTEXT_WORDS = ("anjian", "安监")
_BLOCKLIST_FILE = "common_passwords.txt"
# A password that is one short unit repeated ("aaaaaaaa", "abababab", "12341234").
_REPEATED = re.compile(r"^(.{1,4}?)\1+$", re.DOTALL)


def normalise(password: str) -> str:
    """NFKC, as SP 800-63B asks before a password is checked or hashed: the same password
    typed on another keyboard or input method (full-width digits) is the same password."""
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of common and breached passwords (lower-case, NFKC); see
    ``common_passwords.md`` beside this module for where it comes from."""
    text = resources.files("backend.auth").joinpath(_BLOCKLIST_FILE).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line)


def _sequential(text: str) -> bool:
    """Every character one code point after (or before) the previous: abcdefgh, 87654321."""
    steps = {ord(b) - ord(a) for a, b in pairwise(text)}
    return steps in ({1}, {-1})


def _derived_from(folded: str, word: str) -> bool:
    """The password is ``word`` dressed up: the word with at most a few characters, or only
    digits and punctuation, around it (``zhangsan2024!``, ``anjian123``)."""
    if len(word) < 3 or word not in folded:
        return False
    rest = folded.replace(word, "")
    return len(rest) < 4 or not any(ch.isalpha() for ch in rest)


def check_password(password: str, *, email: str | None = None) -> None:
    """Refuse a password the policy does not allow; the message says why, never the list."""
    value = normalise(password)
    length = len(value)
    if length < MIN_PASSWORD_LENGTH:
        raise BadInput(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    if length > MAX_PASSWORD_LENGTH:
        raise BadInput(f"passwords may have at most {MAX_PASSWORD_LENGTH} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        # NUL, escape, tab and the like cannot be typed reliably and are truncated or
        # rewritten by other systems; printable characters, spaces and emoji are all fine.
        raise BadInput("passwords may not contain control characters")
    if not value.strip() or all(
        unicodedata.category(ch) in ("Zs", "Zl", "Zp", "Cf") for ch in value
    ):
        raise BadInput("a password of only spaces is not a password")
    folded = value.casefold()
    if folded in common_passwords() or folded.strip() in common_passwords():
        raise BadInput(
            "this password is on the list of common or breached passwords; choose another"
        )
    if _REPEATED.match(folded) or _sequential(folded):
        raise BadInput(
            "passwords may not be one character or a short pattern repeated, nor a sequence"
        )
    words = list(_CONTEXT_WORDS)
    if email:
        address = normalise(email).casefold().strip()
        words += [address, address.partition("@")[0]]
    for word in words:
        if folded == word or _derived_from(folded, word):
            raise BadInput(
                "passwords may not be built from your e-mail address or the service name"
            )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(secret: bytes, salt: bytes, log2_n: int, r: int = _R, p: int = _P) -> bytes:
    """The one place scrypt runs (tests count calls here to prove uniform work)."""
    return Scrypt(salt=salt, length=_LEN, n=2**log2_n, r=r, p=p).derive(secret)


def hash_password(password: str, log2_n: int = DEFAULT_LOG2_N) -> str:
    salt = os.urandom(16)
    digest = _scrypt(normalise(password).encode(), salt, log2_n)
    return f"scrypt${log2_n}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def _candidates(password: str) -> list[bytes]:
    """What is hashed to check ``password``: its NFKC form, and the raw text when it differs.

    Hashes made before passwords were normalised hold the raw text; a password whose NFKC
    form differs from what was typed is rare (full-width characters) and its owner typed it
    the same way each time. Both are always hashed, so the work depends only on the input.
    """
    value = normalise(password)
    return [value.encode()] if value == password else [value.encode(), password.encode()]


def verify_password(password: str, encoded: str | None, log2_n: int = DEFAULT_LOG2_N) -> bool:
    """Whether ``password`` matches ``encoded``, with the same scrypt work whatever the answer
    (a missing or unreadable hash burns the same amount at ``log2_n``)."""
    try:
        if not encoded:
            raise ValueError("no password set")
        scheme, cost, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        params = (int(cost), int(r), int(p))
        salt_bytes, expected = base64.b64decode(salt), base64.b64decode(digest)
    except ValueError:
        burn_time(password, log2_n)
        return False
    matched = False
    for secret in _candidates(password):
        matched |= hmac.compare_digest(_scrypt(secret, salt_bytes, *params), expected)
    return matched


def burn_time(password: str, log2_n: int = DEFAULT_LOG2_N) -> None:
    """Spend what checking a password costs, so a login for an account that cannot sign in
    (unknown, invited but not yet accepted, disabled, unreadable hash) takes as long as a
    wrong password."""
    for secret in _candidates(password):
        _scrypt(secret, b"\0" * 16, log2_n)
