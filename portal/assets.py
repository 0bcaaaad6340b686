"""The built web portals (``portal/web/dist``, made by ``make``) served by the API server.

- ``/`` the public landing page, ``/app/…`` the enterprise console, ``/gov/…`` the government
  portal. The two portals route in the browser, so every path under them answers the portal's
  ``index.html`` (a reload of ``/app/alarms/123`` must show that page, not a 404).
- ``index.html`` is sent with ``Cache-Control: no-cache``: a browser revalidates it on every
  visit, so a new build is picked up at once. Everything it loads is under ``/assets/`` with a
  content hash in the file name, so those files never change under a name and are cached for a
  year (``immutable``: not even revalidated on reload). Text assets are sent gzipped to
  clients that accept it (plant and government networks are often slow), compressed once per
  file and kept in memory.
- No file outside ``dist/assets`` can be named: the requested path is resolved and must stay
  inside that folder, and names starting with a dot are refused.
- Before the first build every portal path answers 503 with a page that says to run ``make``.

The Content-Security-Policy and the other security headers come from the app's middleware
(``backend/api/headers.py``), like for every other response.
"""

from __future__ import annotations

import gzip
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio
from litestar import Request, Response, Router, get
from litestar.handlers import HTTPRouteHandler
from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_503_SERVICE_UNAVAILABLE

DIST_DIR = Path(__file__).parent / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
PORTALS = ("app", "gov")
NOT_BUILT = (
    "门户尚未构建：请运行 make（或 make demo）。\n"
    "The portal is not built: run make (or make demo), which builds portal/web into "
    "portal/web/dist.\n"
)
# Types Python's table may lack or word differently on some systems; the rest from mimetypes.
MEDIA_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".png": "image/png",
    ".webp": "image/webp",
    ".wasm": "application/wasm",
}
COMPRESSIBLE = {".js", ".mjs", ".css", ".html", ".json", ".svg", ".ttf"}
MIN_GZIP_BYTES = 1024


@dataclass(frozen=True)
class _Loaded:
    """One file's bytes as read at ``stamp`` (mtime and size), and gzipped when worth it."""

    stamp: tuple[int, int]
    body: bytes
    gzipped: bytes | None


class PortalFiles:
    """Reads the build's files, checks names, and remembers what it read until it changes."""

    def __init__(self, dist: Path) -> None:
        self.dist = dist
        self._cache: dict[Path, _Loaded] = {}
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return (self.dist / "index.html").is_file()

    def asset(self, name: str) -> Path | None:
        """The file ``/assets/<name>`` names, or None for anything outside the assets folder."""
        root = (self.dist / "assets").resolve()
        parts = [part for part in name.split("/") if part]
        if not parts or any(part.startswith(".") or "\\" in part for part in parts):
            return None
        candidate = root.joinpath(*parts).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
        return candidate

    def load(self, path: Path) -> _Loaded:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            known = self._cache.get(path)
        if known is not None and known.stamp == stamp:
            return known
        body = path.read_bytes()
        compress = path.suffix in COMPRESSIBLE and len(body) >= MIN_GZIP_BYTES
        # mtime=0: the same bytes give the same gzip stream on every server of a deployment.
        gzipped = gzip.compress(body, compresslevel=9, mtime=0) if compress else None
        loaded = _Loaded(stamp, body, gzipped if gzipped and len(gzipped) < len(body) else None)
        with self._lock:
            self._cache[path] = loaded
        return loaded


def _accepts_gzip(request: Request) -> bool:
    accepted = request.headers.get("accept-encoding", "")
    return any(
        item.split(";")[0].strip() == "gzip" and "q=0" not in item.replace(" ", "")
        for item in accepted.lower().split(",")
    )


def _send(request: Request, files: PortalFiles, path: Path, cache_control: str) -> Response[bytes]:
    loaded = files.load(path)
    media_type = MEDIA_TYPES.get(path.suffix) or (
        mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    headers = {"Cache-Control": cache_control}
    body = loaded.body
    if loaded.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
        if _accepts_gzip(request):
            body = loaded.gzipped
            headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=headers)


def _not_built() -> Response[bytes]:
    return Response(
        NOT_BUILT.encode(),
        status_code=HTTP_503_SERVICE_UNAVAILABLE,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-store", "Retry-After": "60"},
    )


def _page(request: Request, files: PortalFiles, index: Path) -> Response[bytes]:
    if not files.built or not index.is_file():
        return _not_built()
    return _send(request, files, index, NO_CACHE)


def portal_router(dist: Path = DIST_DIR) -> Router:
    """The routes serving the build in ``dist``: ``/``, ``/app/…``, ``/gov/…``, ``/assets/…``."""
    files = PortalFiles(dist)

    def send_asset(request: Request, name: str) -> Response[bytes]:
        if not files.built:
            return _not_built()
        path = files.asset(name)
        if path is None:
            return Response(b"not found\n", status_code=HTTP_404_NOT_FOUND, media_type="text/plain")
        return _send(request, files, path, IMMUTABLE)

    # The handlers are async and read files in a worker thread, off the event loop.
    @get("/assets/{name:path}")
    async def asset(request: Request, name: str) -> Response[bytes]:
        return await anyio.to_thread.run_sync(send_asset, request, name)

    @get("/")
    async def landing(request: Request) -> Response[bytes]:
        return await anyio.to_thread.run_sync(_page, request, files, dist / "index.html")

    def portal_pages(portal: str) -> HTTPRouteHandler:
        index = dist / portal / "index.html"

        @get([f"/{portal}", f"/{portal}/{{rest:path}}"], name=f"portal-{portal}")
        async def page(request: Request, rest: str | None = None) -> Response[bytes]:
            # The browser's router shows the page the path names; the server sends its shell.
            return await anyio.to_thread.run_sync(_page, request, files, index)

        return page

    return Router(
        path="/",
        route_handlers=[asset, landing, *(portal_pages(portal) for portal in PORTALS)],
        include_in_schema=False,
    )
