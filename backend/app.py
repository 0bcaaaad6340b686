"""The Litestar app factory: GraphQL, health, the built portals, the embedded workers.

The lifespan starts the jobs (``backend/jobs``) on the runtime's pieces: the alarm pipeline
and the outbox relay, the mail relay, the daily retention run, the clean-up of unclaimed
report photos, and the MQTT consumer when one is configured. Every timer reads ``runtime.clock``.

A test process (``ANJIAN_ENV=test`` with ``ANJIAN_TEST_CLOCK=1``, refused otherwise by the
settings) also mounts ``POST /api/v1/test/clock``: ``{"seconds": n}`` moves the clock n seconds
ahead and runs the engine's tick and the escalation job at once, so a deadline test does not
wait in real time. It asks for no token: it exists in test processes only, and every test
would otherwise need a platform administrator just to move time.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
from litestar import Litestar, Request, Response, WebSocket, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.static_files import create_static_files_router
from litestar.types import Scope as LitestarScope
from sqlalchemy import text
from strawberry.exceptions import ConnectionRejectionError
from strawberry.litestar import make_graphql_controller

from backend.alarms.notify import notification_sink
from backend.api.audit_routes import audit_csv
from backend.api.errors import http_status_for, log_unhandled
from backend.api.headers import security_headers
from backend.api.http_body import StrictRequestBody
from backend.api.ingest_routes import ROUTES as ingest_routes
from backend.api.notice_routes import ROUTES as notice_routes
from backend.api.open311_routes import ROUTES as open311_routes
from backend.api.photo_routes import ROUTES as photo_routes
from backend.api.report_routes import ROUTES as report_routes
from backend.api.schema import build_schema
from backend.auth import service as auth_service
from backend.auth.browser import origin_is_own, unscoped_caller
from backend.auth.context import RequestContext
from backend.auth.principal import Principal
from backend.auth.tokens import bearer_token
from backend.core.clock import AdjustableClock
from backend.core.errors import AnjianError
from backend.core.settings import Settings, load_settings
from backend.jobs.alarm_pipeline import AlarmPipeline
from backend.jobs.broker import start_worker
from backend.jobs.mail_outbox import MailRelay
from backend.jobs.notice_overdue import OverdueNotices
from backend.jobs.outbox_relay import OutboxRelay
from backend.jobs.report_escalation import ReportEscalation
from backend.jobs.report_photos import UnclaimedReportPhotos
from backend.runtime import Runtime
from backend.telemetry.mqtt import DynsecError, MqttConsumer, sync_from_registry
from backend.telemetry.store import ping
from portal.assets import portal_router

log = logging.getLogger("anjian")
MAX_BODY_BYTES = 4 * 1024 * 1024
STATIC_DIR = Path(str(resources.files("portal").joinpath("static")))


async def _principal_for(
    runtime: Runtime, authorization: str | None
) -> tuple[Principal, str | None]:
    token = bearer_token(authorization)
    if authorization and token is None:
        return Principal.anonymous(), "the Authorization header must be 'Bearer <token>'"
    if token is None:
        return Principal.anonymous(), None
    try:
        principal = await auth_service.unscoped_resolve_token(
            sessions=runtime.sessions, codec=runtime.tokens, authz=runtime.authz, token=token
        )
    except AnjianError as exc:
        return Principal.anonymous(), exc.message
    return principal, None


async def graphql_context(scope: LitestarScope) -> AsyncGenerator[RequestContext]:
    # ``scope`` serves both HTTP requests and WebSocket subscriptions. A browser's WebSocket
    # brings the session cookie but cannot add the CSRF header: there the cookie counts only
    # from the server's own origin. A token may also arrive later, in connection_init (see
    # GraphQLController.on_ws_connect).
    connection: ASGIConnection[Any, Any, Any, State] = ASGIConnection(scope)
    runtime: Runtime = connection.app.state.runtime
    websocket = scope["type"] == "websocket"
    trusted = runtime.settings.trusted_proxies
    caller = await unscoped_caller(
        stores=runtime,
        connection=connection,
        cookie_allowed=not websocket or origin_is_own(connection, trusted),
        csrf_required=not websocket,
    )
    context = RequestContext(
        runtime=runtime,
        principal=caller.principal,
        auth_error=caller.error,
        via=caller.via,
        refusal=caller.refusal,
    )
    try:
        yield context
    finally:
        await context.close()


class GraphQLController(
    StrictRequestBody,
    make_graphql_controller(build_schema(), path="/graphql", context_getter=graphql_context),
):
    """Serves GraphiQL from the project's own assets: government networks are often air-gapped."""

    async def render_graphql_ide(self, request: Request[Any, Any, Any]) -> Response[str]:
        html = (STATIC_DIR / "graphiql" / "graphiql.html").read_text(encoding="utf-8")
        return Response(html, media_type="text/html; charset=utf-8")

    def is_websocket_origin_allowed(self, request: WebSocket[Any, Any, Any], origin: str) -> bool:
        """Every origin may open the socket: what a page elsewhere cannot use is the session
        cookie (``graphql_context`` takes it only from the server's own origin), so from there
        it gets only what a token it holds allows, sent in connection_init."""
        return True

    async def on_ws_connect(self, context: RequestContext) -> dict[str, object] | None:
        """Browsers cannot set headers on a WebSocket: a token comes in connection_init, or
        the page's own origin brings the session cookie (taken by ``graphql_context``)."""
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        if context.principal.authenticated and not authorization:
            return None
        if not authorization:
            message = context.auth_error or "send authorization in connection_init"
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED", "message": message})
        principal, error = await _principal_for(
            context.rt, authorization if isinstance(authorization, str) else None
        )
        if not principal.authenticated:
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": error or "send authorization"}
            )
        context.principal = principal
        context.via = "bearer"
        return None


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _sees_readiness_details(request: Request[Any, Any, State]) -> bool:
    """Whether the caller gets versions and error texts: a platform administrator's token.

    Not "a loopback caller": behind a reverse proxy on the same host every public request
    arrives from 127.0.0.1, so the peer address says nothing about who is asking. Load
    balancers and orchestrators need only the status code, which everyone gets."""
    authorization = request.headers.get("authorization")
    if not authorization:
        return False
    principal, _ = await _principal_for(request.app.state.runtime, authorization)
    return principal.role_in("platform") == "platform_admin"


@get("/readyz")
async def readyz(request: Request[Any, Any, State]) -> Response[dict[str, Any]]:
    """200 or 503 with the reasons by name for everyone; the checks, versions and error
    texts only for a platform administrator (they help an attacker map the system)."""
    runtime: Runtime = request.app.state.runtime
    checks: dict[str, Any] = {}
    reasons: list[tuple[str, str]] = []  # (public reason, detail)
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        reasons.append(("database unreachable", f"database: {exc.__class__.__name__}: {exc}"))
    try:
        checks.update(await anyio.to_thread.run_sync(ping, runtime.clickhouse))
    except Exception as exc:
        reasons.append(
            ("telemetry store unreachable", f"clickhouse: {exc.__class__.__name__}: {exc}")
        )
    flusher = runtime.flusher
    unflushed = runtime.spool.unflushed_bytes()
    checks["spool"] = {
        "unflushed_bytes": unflushed,
        "limit_bytes": runtime.spool.max_unflushed_bytes,
    }
    if unflushed >= runtime.spool.max_unflushed_bytes:
        reasons.append(
            ("ingest spool full", "ingest spool is full: the telemetry store is not keeping up")
        )
    if not flusher.status.healthy:
        reasons.append(
            (
                "telemetry writes failing",
                f"telemetry store writes are failing: {flusher.status.last_error}",
            )
        )
    consumer: MqttConsumer | None = request.app.state.get("mqtt")
    if consumer is not None:
        checks["mqtt"] = {
            "connected": consumer.stats.connected,
            "last_error": consumer.stats.last_error,
        }
    body: dict[str, Any] = {"status": "unavailable" if reasons else "ready"}
    if await _sees_readiness_details(request):
        body["checks"] = checks
        if reasons:
            body["reasons"] = [detail for _, detail in reasons]
    elif reasons:
        body["reasons"] = [public for public, _ in reasons]
    return Response(body, status_code=503 if reasons else 200)


@post("/api/v1/test/clock", status_code=200)
async def advance_test_clock(request: Request[Any, Any, State]) -> Response[dict[str, Any]]:
    """Test processes only (see the module docstring): the clock ``seconds`` ahead, then the
    timers that read it, so what fell due is written by the time this answers."""
    runtime: Runtime = request.app.state.runtime
    clock = runtime.clock
    assert isinstance(clock, AdjustableClock)  # the settings pair the route with this clock
    body = await request.json()
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return Response({"error": 'send {"seconds": n} with n >= 0'}, status_code=400)
    now = clock.advance(seconds)
    alarms: AlarmPipeline = request.app.state.alarms
    alarms.run_timers()
    await alarms.drain()
    steps = await alarms.run_escalations()
    return Response(
        {
            "now": now.isoformat(),
            "offset_seconds": clock.offset.total_seconds(),
            "escalation_steps": steps,
        }
    )


async def _start_mqtt(runtime: Runtime) -> MqttConsumer | None:
    """The MQTT consumer, inside the server when ``ANJIAN_MQTT_URL`` is set."""
    if not runtime.settings.mqtt_url:
        return None
    if runtime.mqtt_directory is not None:
        try:
            await sync_from_registry(runtime.mqtt_directory, runtime)
        except DynsecError as exc:
            log.warning("MQTT: could not reconcile the broker's devices: %s", exc)
    consumer = MqttConsumer(
        runtime.settings.mqtt_url, runtime.ingest, refusal_status=http_status_for
    )
    await consumer.start()
    return consumer


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    *,
    freeze_heap_after_start: bool = False,
) -> Litestar:
    """Build the app. ``runtime`` lets tests share one set of stores across apps;
    ``freeze_heap_after_start`` is for the one app of a server process (``backend.server``)."""
    runtime = runtime or Runtime(settings or load_settings())

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Open ClickHouse first: in embedded mode this process becomes the engine's owner.
        runtime.clickhouse  # noqa: B018
        runtime.flusher.start()
        worker = start_worker(runtime.jobs.broker) if runtime.settings.embedded_broker else None
        # The pipeline's outbox feed shows every committed change to this process's engine
        # and subscriptions; the relay hands each change to the job broker once.
        alarms = AlarmPipeline(
            runtime.sessions, listeners=[runtime.alarm_broadcaster.publish], clock=runtime.clock
        )
        await alarms.start()
        # The evaluator itself, not the pipeline: no extra hop on ingest's request path.
        runtime.ingest.subscribers.append(alarms.evaluator)
        relay = OutboxRelay(
            runtime.sessions, alarms.relay_wakeup, sinks=[notification_sink(runtime.jobs.notify)]
        )
        relay.start()
        mail_relay = MailRelay(runtime.sessions, runtime.jobs.deliver_mail)
        mail_relay.start()
        overdue_notices = OverdueNotices(
            runtime.sessions, runtime.clock, queued_mail=mail_relay.wake
        )
        overdue_notices.loop.start()
        report_photos = UnclaimedReportPhotos(runtime.sessions, runtime.objects, runtime.clock)
        report_photos.loop.start()
        report_escalation = ReportEscalation(
            runtime.sessions, runtime.clock, queued_mail=mail_relay.wake
        )
        report_escalation.loop.start()
        app.state.alarms = alarms
        retention = asyncio.create_task(runtime.retention.loop(), name="retention")
        consumer = await _start_mqtt(runtime)
        app.state.mqtt = consumer
        if freeze_heap_after_start:
            # What start-up loaded (modules, the schema, every tenant's rules) lives as long as
            # the process: out of the collector's reach, a full collection walks only what came
            # since, and stops the event loop for milliseconds instead of a few hundred.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if consumer is not None:
                await consumer.stop()
            retention.cancel()
            runtime.ingest.subscribers.remove(alarms.evaluator)
            await alarms.stop()
            await relay.stop()
            await overdue_notices.loop.stop()
            await report_photos.loop.stop()
            await report_escalation.loop.stop()
            await mail_relay.stop()
            if worker is not None:
                worker.stop()
            runtime.flusher.stop()

    return Litestar(
        route_handlers=[
            GraphQLController,
            healthz,
            readyz,
            *ingest_routes,
            *photo_routes,
            *notice_routes,
            *report_routes,
            *open311_routes,
            audit_csv,
            portal_router(),
            create_static_files_router(path="/static", directories=[STATIC_DIR]),
            *([advance_test_clock] if runtime.settings.test_clock else []),
        ],
        state=State({"runtime": runtime}),
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY_BYTES,
        middleware=[security_headers],
        after_exception=[log_unhandled],
        # Litestar's /schema pages load Redoc and Swagger UI from public CDNs, blank on the
        # air-gapped networks plants and regulators run: the REST routes are few and
        # documented in the README, GraphQL documents itself in GraphiQL.
        openapi_config=None,
        debug=False,
    )
