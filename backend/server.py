"""Running the server process (uvicorn), optionally with the demo's sensor simulator."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable

import uvicorn

from backend.app import create_app
from backend.core.settings import Settings
from backend.migrate import require_migrated
from backend.runtime import Runtime
from privacy.tls import ServerTls, require_modern_tls


def _hardened(_config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    # uvicorn's own context keeps its ALPN set-up; only the protocol floor is raised.
    return require_modern_tls(default())


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    simulate: bool = False,
    tls: ServerTls | None = None,
) -> None:
    """Serve until stopped; with ``tls`` (checked by ``privacy.tls.load_server_tls``) HTTPS only.

    An unreachable or unmigrated store is refused before anything starts (``NotMigrated`` or
    ``StoreUnavailable``), instead of a server that answers every request with an error."""
    require_migrated(settings)
    guessed = settings.public_url is None
    settings = settings.served_at(host, port, https=tls is not None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Casbin logs every role link (user ids, domains) at INFO on each policy load.
    logging.getLogger("casbin").setLevel(logging.WARNING)
    runtime = Runtime(settings)
    app = create_app(runtime=runtime, freeze_heap_after_start=True)
    if simulate:
        from backend.demo.live import attach_simulator

        attach_simulator(app, sessions=lambda: runtime.sessions, ingest=lambda: runtime.ingest)
    log = logging.getLogger(__name__)
    if guessed and host in ("0.0.0.0", "::"):
        log.warning(
            "listening on every address, but mails link to %s: set ANJIAN_PUBLIC_URL to the "
            "address people open the portals at",
            settings.link_base,
        )
    else:
        log.info("mails link to %s (ANJIAN_PUBLIC_URL)", settings.link_base)
    if tls is not None:
        log.info(
            "HTTPS with %s (SHA-256 %s, valid until %s)", tls.subject, tls.sha256, tls.not_after
        )
    # No per-request access log: devices post hundreds of batches a second.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
        access_log=False,
        ssl_certfile=None if tls is None else str(tls.certificate),
        ssl_keyfile=None if tls is None else str(tls.key),
        ssl_context_factory=None if tls is None else _hardened,
    )
