"""GraphiQL's stylesheet under a strict CSP: its embedded fonts as files of their own.

``graphiql.min.css`` (vendored byte-identical, see ``static/graphiql/LICENSES.md``) embeds
its Roboto and Fira Code fonts as ``data:`` URLs. The contract's Content-Security-Policy has
no ``font-src`` beyond ``default-src 'self'``, so a browser refuses those fonts (and reports a
violation). Rather than widening the policy, ``graphiql.csp.css`` is the same stylesheet with
each embedded font moved to ``fonts/<sha-256 prefix>.<woff|woff2>``, served from the server
itself. Images stay embedded (``img-src`` allows ``data:``).

Regenerate after updating the vendored file: ``python -m portal.graphiql_fonts``; a test
checks that the files match what this produces.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

FOLDER = Path(__file__).parent / "static" / "graphiql"
SOURCE = "graphiql.min.css"
TARGET = "graphiql.csp.css"
_FONT = re.compile(r"url\(data:font/(woff2?);base64,([A-Za-z0-9+/=]+)\)")


def extract_fonts(css: str) -> tuple[str, dict[str, bytes]]:
    """The stylesheet with its embedded fonts replaced by relative URLs, and those files."""
    fonts: dict[str, bytes] = {}

    def move(match: re.Match[str]) -> str:
        data = base64.b64decode(match.group(2))
        name = f"fonts/{hashlib.sha256(data).hexdigest()[:16]}.{match.group(1)}"
        fonts[name] = data
        return f"url({name})"

    header = (
        f"/* Generated from {SOURCE} by portal/graphiql_fonts.py: embedded fonts moved to "
        "fonts/ for the Content-Security-Policy. Do not edit. */\n"
    )
    return header + _FONT.sub(move, css), fonts


def build(folder: Path = FOLDER) -> None:
    css, fonts = extract_fonts((folder / SOURCE).read_text(encoding="utf-8"))
    (folder / "fonts").mkdir(exist_ok=True)
    for name, data in fonts.items():
        (folder / name).write_bytes(data)
    (folder / TARGET).write_text(css, encoding="utf-8")


if __name__ == "__main__":
    build()
