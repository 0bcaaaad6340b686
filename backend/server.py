"""Running the server process (uvicorn), optionally with the demo's sensor simulator."""

from __future__ import annotations

import logging

import uvicorn

from backend.app import create_app
from backend.core.settings import Settings
from backend.runtime import Runtime


def serve(settings: Settings, *, host: str, port: int, simulate: bool = False) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Casbin logs every role link (user ids, domains) at INFO on each policy load.
    logging.getLogger("casbin").setLevel(logging.WARNING)
    runtime = Runtime(settings)
    app = create_app(runtime=runtime)
    if simulate:
        from backend.telemetry.simulator import attach_simulator

        attach_simulator(app, runtime)
    # No per-request access log: devices post hundreds of batches a second.
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False, access_log=False)
