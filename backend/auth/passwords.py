"""Password hashing with scrypt (cryptography's implementation).

The hash string records its own parameters, so the cost can rise without breaking old hashes.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

DEFAULT_LOG2_N = 15  # about 80 ms per hash on the reference machine
_R, _P, _LEN = 8, 1, 32
MIN_PASSWORD_LENGTH = 8


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, log2_n: int = DEFAULT_LOG2_N) -> str:
    salt = os.urandom(16)
    digest = Scrypt(salt=salt, length=_LEN, n=2**log2_n, r=_R, p=_P).derive(password.encode())
    return f"scrypt${log2_n}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str | None) -> bool:
    if not encoded:
        return False
    try:
        scheme, log2_n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        kdf = Scrypt(
            salt=base64.b64decode(salt), length=_LEN, n=2 ** int(log2_n), r=int(r), p=int(p)
        )
        kdf.verify(password.encode(), base64.b64decode(digest))
    except (ValueError, InvalidKey):
        return False
    return True


def burn_time(password: str, log2_n: int = DEFAULT_LOG2_N) -> None:
    """Spend one hash's worth of time, so a login for an unknown e-mail takes as long."""
    Scrypt(salt=b"\0" * 16, length=_LEN, n=2**log2_n, r=_R, p=_P).derive(password.encode())
