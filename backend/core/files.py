"""Files under the data dir are the owner's alone: directories 0700, files 0600.

The data dir holds personal data and secrets (the SQLite database, the dev mailbox's invitation
tokens, the spool's readings, snapshots, the keyring). The mode is set where each file or
folder is created, not by a sweep afterwards (a sweep leaves a window, and misses what is
created later). ``os.open``'s and ``mkdir``'s modes are filtered through the process umask,
which another library or a service manager may have set to anything, so the mode is applied
with ``fchmod``/``chmod`` on the object this call just created — umask-independent, and never
touching a file or folder that already existed (an operator's own choice stays).
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` and any missing parents, each created 0700."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made by a concurrent caller: its mode is its creator's to set
        os.chmod(folder, DIR_MODE)
    return path


def open_private(path: Path, flags: int) -> int:
    """``os.open`` that creates the file 0600 (its folder 0700); existing files keep theirs."""
    private_dir(path.parent)
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        if flags & os.O_EXCL:
            raise
        return os.open(path, flags & ~os.O_CREAT)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def touch_private(path: Path) -> Path:
    """Create ``path`` empty and 0600 unless it exists (a file a library opens later, such
    as SQLite's database, whose journal and WAL files then take the same mode)."""
    os.close(open_private(path, os.O_WRONLY))
    return path
