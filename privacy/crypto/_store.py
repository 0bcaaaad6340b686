"""The key store: the master keyring, unwrapping data keys, and the process's bounded,
expiring key cache."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

from backend.core.errors import ConfigurationError
from privacy.crypto._cipher import unwrap_data_key, wrap_data_key
from privacy.crypto._errors import DataKeyDestroyed, KeyRef, Owner
from privacy.crypto._tables import KeyRow
from privacy.keyring import Keyring, load_keyring

_WRAP_PURPOSE = "data-key-wrap"


class KeyStore:
    """Unwraps data keys with the master keyring and caches them for the process."""

    def __init__(
        self,
        keyring: Keyring,
        keyring_path: Path | None = None,
        *,
        capacity: int = 4096,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or ttl_seconds <= 0:
            raise ConfigurationError("the key cache needs a positive capacity and lifetime")
        self._keyring = keyring
        self._path = keyring_path
        self._keyring_read_at = clock()
        self._capacity = capacity
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: OrderedDict[KeyRef, tuple[bytes, float]] = OrderedDict()
        self._current: dict[Owner, tuple[int, float]] = {}
        self._wrapping: dict[int, bytes] = {}

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def reload_keyring(self) -> Keyring:
        """Re-read the keyring file: another process may have rotated it."""
        if self._path is not None:
            keyring = load_keyring(self._path, create=False)
            with self._lock:
                self._keyring = keyring
                self._keyring_read_at = self._clock()
        return self._keyring

    def _wrapping_key(self, master_version: int) -> bytes:
        with self._lock:
            found = self._wrapping.get(master_version)
        if found is not None:
            return found
        keyring = self._keyring
        if not keyring.has(master_version):
            keyring = self.reload_keyring()
        if not keyring.has(master_version):
            raise ConfigurationError(
                f"a data key is wrapped under master key version {master_version}, which the "
                "keyring does not hold; restore the keyring file that has it"
            )
        derived = keyring.derive(_WRAP_PURPOSE, master_version)
        with self._lock:
            self._wrapping[master_version] = derived
        return derived

    def wrap(self, owner: Owner, version: int, data_key: bytes) -> tuple[bytes, int]:
        """The data key wrapped under the current master version, and that version."""
        if self._path is not None and self._clock() - self._keyring_read_at > self._ttl:
            self.reload_keyring()  # a rotation elsewhere reaches new keys within the TTL
        master = self._keyring.current.version
        return wrap_data_key(self._wrapping_key(master), data_key, owner, version), master

    def unwrap(self, row: KeyRow) -> bytes:
        if row.wrapped is None or row.master_version is None:
            raise DataKeyDestroyed(row.owner)
        return unwrap_data_key(
            self._wrapping_key(row.master_version), row.wrapped, row.owner, row.version
        )

    def cached(self, ref: KeyRef) -> bytes | None:
        with self._lock:
            entry = self._keys.get(ref)
            if entry is None:
                return None
            if entry[1] <= self._clock():
                del self._keys[ref]
                return None
            self._keys.move_to_end(ref)
            return entry[0]

    def cached_current(self, owner: Owner) -> int | None:
        with self._lock:
            entry = self._current.get(owner)
            if entry is None or entry[1] <= self._clock():
                self._current.pop(owner, None)
                return None
            return entry[0]

    def remember(self, ref: KeyRef, key: bytes) -> None:
        with self._lock:
            self._keys[ref] = (key, self._clock() + self._ttl)
            self._keys.move_to_end(ref)
            while len(self._keys) > self._capacity:
                self._keys.popitem(last=False)

    def remember_current(self, owner: Owner, version: int) -> None:
        with self._lock:
            self._current[owner] = (version, self._clock() + self._ttl)
            if len(self._current) > self._capacity:
                self._current.pop(next(iter(self._current)))

    def forget(self, owners: Iterable[Owner]) -> None:
        gone = set(owners)
        with self._lock:
            for ref in [r for r in self._keys if r[0] in gone]:
                del self._keys[ref]
            for owner in gone:
                self._current.pop(owner, None)

    def forget_all(self) -> None:
        with self._lock:
            self._keys.clear()
            self._current.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)
