"""Objects (camera snapshots, report photos) behind a small store interface.

The embedded store keeps files under the data dir; an S3-compatible store implements the same
four methods. Keys are relative, slash-separated and chosen by the server, never by clients.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

from backend.core.errors import BadInput
from backend.core.files import open_private

_KEY = re.compile(r"^[a-z0-9][a-z0-9/_.-]{0,254}$")


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...


class FileObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key.split("/"):
            raise BadInput(f"bad object key {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        tmp = path.with_name(path.name + ".tmp")  # snapshots and photos: 0600 in 0700 folders
        with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).is_file()
        except BadInput:
            return False

    def delete(self, key: str) -> None:
        """Remove the object; one that is not there is already gone."""
        self._path(key).unlink(missing_ok=True)
