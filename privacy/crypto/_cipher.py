"""The primitives: sealing a value, wrapping a data key, blind indexes (no I/O, no state)."""

from __future__ import annotations

import os
import struct
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from backend.core.errors import ConfigurationError
from privacy.crypto._errors import CiphertextInvalid, Owner, owner_label

FORMAT = 1
_HEADER = struct.Struct(">BI")
_NONCE = 12
_TAG = 16


def field_aad(table: str, field: str, owner: Owner, row_id: uuid.UUID) -> bytes:
    """What a sealed value is bound to: its column, its row and its owner."""
    return f"anjian/field|{table}.{field}|{owner_label(owner)}|{row_id}".encode()


def seal(key: bytes, version: int, plaintext: bytes, aad: bytes) -> bytes:
    header = _HEADER.pack(FORMAT, version)
    nonce = os.urandom(_NONCE)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def sealed_version(blob: bytes) -> int:
    """The data-key version a ciphertext names (its header is authenticated on opening)."""
    if len(blob) < _HEADER.size + _NONCE + _TAG:
        raise CiphertextInvalid("密文不完整 / the ciphertext is truncated")
    fmt, version = _HEADER.unpack_from(blob)
    if fmt != FORMAT:
        raise CiphertextInvalid(f"未知的密文格式 / unknown ciphertext format {fmt}")
    return int(version)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes:
    sealed_version(blob)
    header, nonce = blob[: _HEADER.size], blob[_HEADER.size : _HEADER.size + _NONCE]
    try:
        return AESGCM(key).decrypt(nonce, blob[_HEADER.size + _NONCE :], header + aad)
    except InvalidTag:
        raise CiphertextInvalid(
            "密文校验失败 / the encrypted value fails its integrity check: it was altered or "
            "moved from another row, column or tenant"
        ) from None


def _wrap_aad(owner: Owner, version: int) -> bytes:
    return f"anjian/data-key|{owner_label(owner)}|{version}".encode()


def wrap_data_key(wrapping_key: bytes, data_key: bytes, owner: Owner, version: int) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(wrapping_key).encrypt(nonce, data_key, _wrap_aad(owner, version))


def unwrap_data_key(wrapping_key: bytes, wrapped: bytes, owner: Owner, version: int) -> bytes:
    try:
        key = AESGCM(wrapping_key).decrypt(
            wrapped[:_NONCE], wrapped[_NONCE:], _wrap_aad(owner, version)
        )
    except InvalidTag:
        raise ConfigurationError(
            f"data key {version} of {owner_label(owner)} cannot be unwrapped: the keyring does "
            "not belong to this database, or the key row was altered"
        ) from None
    if len(key) != 32:
        raise ConfigurationError(f"data key {version} of {owner_label(owner)} is not 256 bits")
    return key


def index_key(data_key: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=f"anjian/blind-index/{purpose}".encode(),
    ).derive(data_key)


def blind_index(key: bytes, value: str) -> bytes:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(value.encode())
    return mac.finalize()
