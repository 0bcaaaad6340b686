"""The master keyring: versioned 256-bit keys in a 0600 file.

Purpose keys (token signing, blind indexes, data-key wrapping) are derived with HKDF, so one
file holds every secret and a rotation adds a version without invalidating older material.
Versions are never removed: data keys wrapped, tokens signed and backups made under an older
version stay readable.

Writers (first creation, rotation) hold an exclusive ``flock`` on a sibling lock file and
re-read the file under it, so two processes cannot both create version 1 or both append the
same version number — either would leave data keys wrapped under a key the file has lost.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from backend.core.errors import ConfigurationError
from backend.core.files import private_dir


@dataclass(frozen=True)
class KeyVersion:
    version: int
    key: bytes
    created_at: str


class Keyring:
    def __init__(self, versions: list[KeyVersion]) -> None:
        if not versions:
            raise ConfigurationError("the keyring holds no key")
        numbers = [v.version for v in versions]
        if len(set(numbers)) != len(numbers):
            raise ConfigurationError("the keyring holds two keys with one version number")
        self.versions = sorted(versions, key=lambda v: v.version)

    @property
    def current(self) -> KeyVersion:
        return self.versions[-1]

    def has(self, version: int) -> bool:
        return any(v.version == version for v in self.versions)

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


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """This process's lock and the file lock other processes honour, for one keyring."""
    private_dir(path.parent)
    with _lock:
        fd = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def _write_private(path: Path, payload: dict[str, object]) -> None:
    """Write-to-temporary, fsync, rename, fsync the directory: readers see the old file or the
    new one, never a torn one, and a crash does not lose a version already used."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply to a leftover temporary file
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _new_version(version: int) -> dict[str, object]:
    return {
        "version": version,
        "key": base64.b64encode(os.urandom(32)).decode(),
        "created_at": datetime.now(UTC).isoformat(),
    }


def _read_raw(path: Path) -> list[dict[str, object]]:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigurationError(
            f"keyring {path} is readable by others (mode {mode:o}); chmod 600 it"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        versions = raw["versions"]
        if not isinstance(versions, list):
            raise TypeError("versions is not a list")
        return versions
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"keyring {path} is unreadable: {exc}") from exc


def _parse(path: Path, raw: list[dict[str, object]]) -> Keyring:
    try:
        versions = [
            KeyVersion(
                int(str(v["version"])),
                base64.b64decode(str(v["key"]), validate=True),
                str(v["created_at"]),
            )
            for v in raw
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"keyring {path} is unreadable: {exc}") from exc
    if any(len(v.key) != 32 for v in versions):
        raise ConfigurationError(f"keyring {path} holds a key that is not 256 bits")
    return Keyring(versions)


def load_keyring(path: Path, *, create: bool = True) -> Keyring:
    """Read the keyring, creating it (mode 0600) on first use."""
    if not path.exists():
        if not create:
            raise ConfigurationError(f"keyring {path} does not exist")
        with _exclusive(path):
            if not path.exists():  # another process may have created it while we waited
                _write_private(path, {"versions": [_new_version(1)]})
    return _parse(path, _read_raw(path))


def add_version(path: Path) -> Keyring:
    """Rotation: append a fresh key version; every older version stays in the file."""
    if not path.exists():
        raise ConfigurationError(f"keyring {path} does not exist; nothing to rotate")
    with _exclusive(path):
        raw = _read_raw(path)
        current = _parse(path, raw).current.version
        _write_private(path, {"versions": [*raw, _new_version(current + 1)]})
        return _parse(path, _read_raw(path))
