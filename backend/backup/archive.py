"""The archive format: a directory of encrypted files and one authenticated manifest.

Keys come from the master keyring: ``keyring.derive("backup", version)``, with the version in
the manifest, so a keyring rotated after the backup still opens it. Each archive has a random
id, and its data, manifest and fingerprint keys are derived from the backup key with that id as
salt: no two archives share a key.

A data file is a run of chunks, each ``length (4 bytes) | nonce (12) | AES-256-GCM ciphertext``
of a zstd-compressed piece of plaintext. The associated data binds every chunk to its archive,
its file name, its index and whether it is the last, so chunks cannot be reordered, moved to
another file or archive, or cut off at the end without the decryption failing. The manifest
lists every file with its size, SHA-256, row count and row fingerprint, and carries an
HMAC-SHA256 over all of it: a changed byte anywhere is refused, naming the file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from backend.core.errors import BadInput, ConfigurationError
from privacy.keyring import Keyring

try:  # the standard library's from Python 3.14
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    from backports import zstd  # type: ignore[import-not-found,no-redef]

FORMAT = "anjian-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SUFFIX = ".enc"
CHUNK_BYTES = 4 << 20
_NONCE_BYTES = 12
_LENGTH = struct.Struct(">I")
_POSITION = struct.Struct(">QB")
# A chunk never grows past its plaintext bound plus zstd's worst case and the GCM tag; a
# length beyond this is damage, not data, and must not make the reader allocate it.
_MAX_SEALED = CHUNK_BYTES * 2 + 4096
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9/_.-]{0,510}$")


class BackupRefused(BadInput):
    """An archive or a target the backup commands will not use; the message says why."""

    code = "BACKUP_REFUSED"


def check_name(name: str) -> str:
    """File names come from the manifest: relative, no ``..``, nothing a path could escape by."""
    if not _NAME.match(name) or any(part in ("", ".", "..") for part in name.split("/")):
        raise BackupRefused(f"the manifest names an unsafe file path {name!r}")
    return name


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class ArchiveKeys:
    archive_id: bytes
    data: bytes
    manifest: bytes
    fingerprint: bytes
    check: str

    @classmethod
    def derive(cls, keyring: Keyring, version: int, archive_id: bytes) -> ArchiveKeys:
        try:
            base = keyring.derive("backup", version)
        except ConfigurationError:
            raise BackupRefused(
                f"密钥环中没有备份所用的主密钥版本 / this backup was made with master key version "
                f"{version}, which the keyring does not hold. Restore with the keyring the backup "
                "was made with (a rotated keyring keeps its old versions)"
            ) from None

        def sub(purpose: str) -> bytes:
            return HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=archive_id,
                info=f"anjian/backup/{purpose}".encode(),
            ).derive(base)

        check = hmac.new(sub("key-check"), b"anjian backup key check", "sha256").hexdigest()
        return cls(archive_id, sub("data"), sub("manifest"), sub("fingerprint"), check[:32])


class Fingerprint:
    """An order-independent digest of a multiset of rows (the sum of keyed per-row hashes), so
    rows read back from a database in any order compare with the rows as dumped."""

    _MODULUS = 1 << 128

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.value = 0
        self.rows = 0

    def _row(self, line: bytes) -> int:
        return int.from_bytes(hashlib.blake2b(line, key=self._key, digest_size=16).digest())

    def add(self, lines: list[bytes]) -> None:
        self.value = (self.value + sum(map(self._row, lines))) % self._MODULUS
        self.rows += len(lines)

    @property
    def hex(self) -> str:
        return f"{self.value:032x}"


@dataclass
class FileEntry:
    name: str
    kind: str  # relational | clickhouse | object
    rows: int
    plain_bytes: int
    stored_bytes: int
    sha256: str
    fingerprint: str | None
    meta: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "rows": self.rows,
            "plain_bytes": self.plain_bytes,
            "stored_bytes": self.stored_bytes,
            "sha256": self.sha256,
            "fingerprint": self.fingerprint,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FileEntry:
        return cls(
            name=check_name(str(raw["name"])),
            kind=str(raw["kind"]),
            rows=int(raw["rows"]),
            plain_bytes=int(raw["plain_bytes"]),
            stored_bytes=int(raw["stored_bytes"]),
            sha256=str(raw["sha256"]),
            fingerprint=None if raw["fingerprint"] is None else str(raw["fingerprint"]),
            meta=dict(raw.get("meta") or {}),
        )


def _associated(keys: ArchiveKeys, name: str, index: int, final: bool) -> bytes:
    return b"%s\0%s\0%s\0%s" % (
        FORMAT.encode(),
        keys.archive_id,
        name.encode(),
        _POSITION.pack(index, int(final)),
    )


class EncryptedWriter:
    """Write one archive file: plaintext in, sealed chunks out, hashed as written."""

    def __init__(self, root: Path, name: str, keys: ArchiveKeys) -> None:
        self.name = check_name(name)
        self._keys = keys
        self._aead = AESGCM(keys.data)
        self._path = root / (name + SUFFIX)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb")
        self._sha = hashlib.sha256()
        self._buffer = bytearray()
        self._index = 0
        self.plain_bytes = 0
        self.stored_bytes = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.plain_bytes += len(data)
        while len(self._buffer) > CHUNK_BYTES:  # keep a remainder: the last chunk is marked
            piece = bytes(self._buffer[:CHUNK_BYTES])
            del self._buffer[:CHUNK_BYTES]
            self._seal(piece, final=False)

    def _seal(self, plain: bytes, *, final: bool) -> None:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(
            nonce,
            zstd.compress(plain, level=1),
            _associated(self._keys, self.name, self._index, final),
        )
        record = _LENGTH.pack(len(sealed)) + nonce + sealed
        self._file.write(record)
        self._sha.update(record)
        self.stored_bytes += len(record)
        self._index += 1

    def close(self) -> tuple[int, int, str]:
        """Seal the last chunk (possibly empty); returns (plain bytes, stored bytes, sha256)."""
        self._seal(bytes(self._buffer), final=True)
        self._buffer.clear()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self.plain_bytes, self.stored_bytes, self._sha.hexdigest()

    def abort(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)


def read_chunks(root: Path, name: str, keys: ArchiveKeys) -> Iterator[bytes]:
    """The plaintext of one archive file, chunk by chunk, each authenticated before use."""
    path = root / (check_name(name) + SUFFIX)
    aead = AESGCM(keys.data)
    try:
        size = path.stat().st_size
        handle = path.open("rb")
    except FileNotFoundError:
        raise BackupRefused(f"备份文件缺失 / archive file {name} is missing") from None
    with handle:
        index = 0
        while handle.tell() < size:
            header = handle.read(_LENGTH.size + _NONCE_BYTES)
            if len(header) < _LENGTH.size + _NONCE_BYTES:
                raise BackupRefused(f"archive file {name} is truncated at chunk {index}")
            (length,) = _LENGTH.unpack_from(header)
            if length > _MAX_SEALED:
                raise BackupRefused(f"archive file {name} is damaged at chunk {index}")
            sealed = handle.read(length)
            if len(sealed) < length:
                raise BackupRefused(f"archive file {name} is truncated at chunk {index}")
            final = handle.tell() == size
            try:
                packed = aead.decrypt(
                    header[_LENGTH.size :], sealed, _associated(keys, name, index, final)
                )
            except InvalidTag:
                raise BackupRefused(
                    f"备份文件被篡改 / archive file {name}: chunk {index} fails authentication "
                    "(altered, reordered, cut short or taken from another file)"
                ) from None
            yield zstd.decompress(packed)
            index += 1
        if index == 0:
            raise BackupRefused(f"archive file {name} is empty (its final chunk is missing)")


def line_blocks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The same bytes re-cut at line ends: every block is whole lines, each ending in a newline."""
    rest = b""
    for chunk in chunks:
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            yield data[:cut]
    if rest:
        yield rest + b"\n"


def split_lines(block: bytes) -> list[bytes]:
    return block[:-1].split(b"\n")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _signed_part(manifest: dict[str, Any]) -> bytes:
    return canonical({k: v for k, v in manifest.items() if k != "mac"})


def write_manifest(root: Path, keys: ArchiveKeys, key_version: int, body: dict[str, Any]) -> None:
    """Written last, atomically: an archive without its manifest is visibly incomplete."""
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "archive_id": keys.archive_id.hex(),
        "key_version": key_version,
        "key_check": keys.check,
        "body": body,
    }
    manifest["mac"] = hmac.new(keys.manifest, _signed_part(manifest), "sha256").hexdigest()
    tmp = root / (MANIFEST + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, ensure_ascii=False, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, root / MANIFEST)
    directory = os.open(root, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@dataclass(frozen=True)
class OpenedArchive:
    root: Path
    keys: ArchiveKeys
    key_version: int
    body: dict[str, Any]
    files: list[FileEntry]


def open_archive(root: Path, keyring: Keyring) -> OpenedArchive:
    """Authenticate the manifest with the keyring, then check every file against it."""
    path = root / MANIFEST
    if not path.is_file():
        raise BackupRefused(f"{root} holds no {MANIFEST}: not a complete Anjian backup")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest["format"] != FORMAT:
            raise ValueError(f"format {manifest['format']!r}")
        if manifest["format_version"] != FORMAT_VERSION:
            raise BackupRefused(
                f"backup format version {manifest['format_version']} is not supported by this "
                f"version of Anjian (it reads version {FORMAT_VERSION})"
            )
        archive_id = bytes.fromhex(manifest["archive_id"])
        key_version = int(manifest["key_version"])
        key_check = str(manifest["key_check"])
        mac = bytes.fromhex(manifest["mac"])
        body = manifest["body"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BackupRefused(f"{MANIFEST} is unreadable (altered or damaged): {exc}") from None
    keys = ArchiveKeys.derive(keyring, key_version, archive_id)
    if not hmac.compare_digest(keys.check, key_check):
        raise BackupRefused(
            f"密钥环与备份不匹配 / the keyring does not open this backup: its key version "
            f"{key_version} is a different key (wrong keyring file?)"
        )
    expected = hmac.new(keys.manifest, _signed_part(manifest), "sha256").digest()
    if not hmac.compare_digest(expected, mac):
        raise BackupRefused(
            f"备份清单被篡改 / {MANIFEST} has been altered: its authentication code does not match"
        )
    try:
        files = [FileEntry.from_json(raw) for raw in body["files"]]
    except (KeyError, TypeError, ValueError) as exc:  # authentic, so written by another version
        raise BackupRefused(f"{MANIFEST} lists its files in an unknown form: {exc}") from None
    _check_files(root, files)
    return OpenedArchive(root, keys, key_version, body, files)


def _check_files(root: Path, files: list[FileEntry]) -> None:
    listed = {entry.name + SUFFIX for entry in files}
    for entry in files:
        path = root / (entry.name + SUFFIX)
        if not path.is_file():
            raise BackupRefused(f"备份文件缺失 / archive file {entry.name} is missing")
        if path.stat().st_size != entry.stored_bytes or file_sha256(path) != entry.sha256:
            raise BackupRefused(
                f"备份文件被篡改或损坏 / archive file {entry.name} has been altered or damaged "
                "(its size or SHA-256 differs from the manifest)"
            )
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative != MANIFEST and relative not in listed:
            raise BackupRefused(f"archive holds a file the manifest does not list: {relative}")
