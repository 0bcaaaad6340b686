"""Receipt codes: ``AJ-XXXX-XXXX-XXXX-XXXX``, 16 symbols of Crockford's base32 from 80 random
bits (``secrets.token_bytes``), easy to read aloud and to type back.

Crockford's alphabet leaves out I, L, O and U, so a code read back with the letters people
confuse with digits still names one code: look-up ignores case, dashes and spaces, reads O as
0 and I or L as 1. Only the SHA-256 of the canonical 16 symbols is stored."""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BITS = 80
SYMBOLS = BITS // 5  # 16
PREFIX = "AJ"
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = str.maketrans("", "", "- \t")


def new_receipt() -> str:
    """A fresh code, formatted for people."""
    number = int.from_bytes(secrets.token_bytes(BITS // 8), "big")
    symbols = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(SYMBOLS)))
    return format_receipt(symbols)


def format_receipt(symbols: str) -> str:
    groups = [symbols[i : i + 4] for i in range(0, SYMBOLS, 4)]
    return "-".join([PREFIX, *groups])


def canonical(code: str) -> str | None:
    """The 16 symbols a code as typed names, or None when it names no possible code."""
    text = code.upper().translate(_IGNORED)
    if len(text) == SYMBOLS + len(PREFIX) and text.startswith(PREFIX):
        text = text[len(PREFIX) :]
    text = text.translate(_READ_AS)
    if len(text) != SYMBOLS or any(c not in ALPHABET for c in text):
        return None
    return text


def receipt_hash(symbols: str) -> bytes:
    return hashlib.sha256(f"{PREFIX}{symbols}".encode("ascii")).digest()
