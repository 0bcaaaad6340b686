"""Capturing what native libraries write straight to file descriptor 2.

chdb (embedded ClickHouse) prints its exceptions to the process's stderr from C++ before
raising them in Python, so a command that meets a busy engine showed a raw ``Code: 76.
DB::Exception`` line ahead of its own explanation. Around such a call the descriptor is
pointed at a temporary file; the caller decides what to do with the text: put it back on
stderr, or fold it into the error it raises. Nothing is dropped unseen.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Captured:
    text: str = ""

    def replay(self) -> None:
        """Write the captured text to the real stderr, as if it had not been captured."""
        if self.text:
            sys.stderr.write(self.text)
            sys.stderr.flush()


@contextmanager
def native_stderr() -> Iterator[Captured]:
    captured = Captured()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", errors="replace")
