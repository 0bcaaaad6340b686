"""The master keyring: versioned 256-bit keys in a 0600 file.

Purpose keys (token signing, blind indexes, data-key wrapping) are derived with HKDF, so one
file holds every secret and a rotation adds a version without invalidating older material.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from backend.core.errors import ConfigurationError


@dataclass(frozen=True)
class KeyVersion:
    version: int
    key: bytes
    created_at: str


class Keyring:
    def __init__(self, versions: list[KeyVersion]) -> None:
        if not versions:
            raise ConfigurationError("the keyring holds no key")
        self.versions = sorted(versions, key=lambda v: v.version)

    @property
    def current(self) -> KeyVersion:
        return self.versions[-1]

    def derive(self, purpose: str, version: int | None = None) -> bytes:
        """A 32-byte key for one purpose, from one key version (the current by default)."""
        base = self.current if version is None else self._version(version)
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=f"anjian/{purpose}".encode()
        ).derive(base.key)

    def derive_all(self, purpose: str) -> list[bytes]:
        """Keys for a purpose from every version, newest first (for verify-with-any)."""
        return [self.derive(purpose, v.version) for v in reversed(self.versions)]

    def _version(self, version: int) -> KeyVersion:
        for candidate in self.versions:
            if candidate.version == version:
                return candidate
        raise ConfigurationError(f"key version {version} is not in the keyring")


_lock = threading.Lock()


def _write_private(path: Path, payload: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _new_version(version: int) -> dict[str, object]:
    return {
        "version": version,
        "key": base64.b64encode(os.urandom(32)).decode(),
        "created_at": datetime.now(UTC).isoformat(),
    }


def load_keyring(path: Path, *, create: bool = True) -> Keyring:
    """Read the keyring, creating it (mode 0600) on first use."""
    with _lock:
        if not path.exists():
            if not create:
                raise ConfigurationError(f"keyring {path} does not exist")
            _write_private(path, {"versions": [_new_version(1)]})
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigurationError(
                f"keyring {path} is readable by others (mode {mode:o}); chmod 600 it"
            )
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            versions = [
                KeyVersion(int(v["version"]), base64.b64decode(v["key"]), str(v["created_at"]))
                for v in raw["versions"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"keyring {path} is unreadable: {exc}") from exc
        if any(len(v.key) != 32 for v in versions):
            raise ConfigurationError(f"keyring {path} holds a key that is not 256 bits")
        return Keyring(versions)
