"""Settings from ``ANJIAN_*`` environment variables (and an optional ``.env``).

Unset means embedded: a SQLite file and a chdb directory under the data dir, Dramatiq
in-process, MQTT off. Bad values fail fast with a message naming the variable.

``ANJIAN_ENV`` says what the process is for: ``production`` (the default) or ``test``. Settings
that exist only for tests (``ANJIAN_TEST_CLOCK``) are refused with a ``ConfigurationError``
unless it is ``test``, so a production server cannot be started with a clock anyone can move.

``ANJIAN_PUBLIC_URL`` is the address people open the portals at (``https://anjian.example.com``):
the links in mails are built on it and never on a request's ``Host`` header, which whoever
sends the request chooses (a reset link pointing at the sender's own site would hand it the
token). Unset, the server links to the address it binds (``served_at``).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from backend.core.errors import ConfigurationError
from backend.core.limits import Limits, load_limits

_DATABASE_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
_CLICKHOUSE_SCHEMES = {"chdb", "http", "https"}
_BROKER_SCHEMES = {"stub", "redis", "rediss", "amqp", "amqps"}
_MQTT_SCHEMES = {"mqtt", "mqtts"}
_ENVIRONMENTS = ("production", "test")
_PUBLIC_SCHEMES = {"http", "https"}
# Where mails link when nothing says otherwise: ``anjian serve``'s own default address.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
_WILDCARD_HOSTS = {"0.0.0.0", "::", ""}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    clickhouse_url: str
    clickhouse_cluster: str | None
    broker_url: str
    mqtt_url: str | None
    mqtt_admin_url: str | None
    master_key_file: Path
    token_ttl_seconds: int = 12 * 3600
    # Minutes without a request after which a session ends, unless its tenants set their own.
    session_idle_minutes: int = 30
    max_request_bytes: int = 4 * 1024 * 1024
    # scrypt cost as log2(N); 15 is about 80 ms a hash. Lowered only by test fixtures.
    password_log2_n: int = 15
    # Where acknowledged-but-unflushed telemetry waits (default: under the data dir), and how
    # many unflushed bytes it may hold before ingest answers 503.
    spool_dir: Path = Path("var/spool")
    spool_max_bytes: int = 1024 * 1024 * 1024
    # A device (or sensor) not heard from for this long is offline.
    offline_after_seconds: int = 300
    # Networks that webhooks may reach although they are not public internet (loopback,
    # private, link-local…): the platform administrator's explicit exception to the SSRF guard.
    webhook_allow_networks: tuple[Network, ...] = ()
    # Whether anonymous callers may introspect the GraphQL schema (signed-in users always may).
    public_introspection: bool = False
    # Reverse proxies whose X-Forwarded-For names the client (sign-in throttling keys on the
    # client's address); none by default, so the header is ignored unless a deployment says.
    trusted_proxies: tuple[Network, ...] = ()
    # What one request may cost the server (backend/core/limits.py says why each number).
    limits: Limits = field(default_factory=Limits)
    # Leading zero bits of the proof of work a public hazard report needs (SHA-256; each bit
    # doubles the work). 18 bits is ~260,000 hashes on average: a second or two for the
    # portal's bundled JavaScript SHA-256 on a low-end phone, ~0.2 s in a native loop.
    report_pow_difficulty: int = 18
    # ``production`` or ``test`` (ANJIAN_ENV); only a test process may use the test settings.
    environment: str = "production"
    # Test only: the server's timers read a clock that ``POST /api/v1/test/clock`` moves ahead.
    test_clock: bool = False
    # ANJIAN_PUBLIC_URL: the origin mails link to (scheme, host, port; no trailing slash).
    # None until set or until the server fills in the address it binds (``served_at``).
    public_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def link_base(self) -> str:
        """The origin that mailed links start with."""
        return self.public_url or DEFAULT_PUBLIC_URL

    def served_at(self, host: str, port: int, *, https: bool) -> Settings:
        """These settings for a server bound to ``host:port``: without ANJIAN_PUBLIC_URL, mails
        link to that address (a wildcard bind links to the loopback address: set
        ANJIAN_PUBLIC_URL for anyone else to reach the links)."""
        if self.public_url is not None:
            return self
        name = "127.0.0.1" if host in _WILDCARD_HOSTS else host
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"
        scheme = "https" if https else "http"
        return replace(self, public_url=f"{scheme}://{name}:{port}")

    @property
    def embedded_clickhouse(self) -> bool:
        return self.clickhouse_url.startswith("chdb://")

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url == "stub://"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def sync_database_url(self) -> str:
        """The same database for synchronous tools (Alembic, the Casbin adapter)."""
        if self.database_url.startswith("sqlite+aiosqlite"):
            return self.database_url.replace("sqlite+aiosqlite", "sqlite", 1)
        return self.database_url  # psycopg 3 serves both sync and async engines

    @property
    def chdb_path(self) -> Path | None:
        if not self.embedded_clickhouse:
            return None
        return Path(self.clickhouse_url.removeprefix("chdb://"))

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigurationError(f"{path}:{number}: expected KEY=VALUE, got {raw!r}")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _normalise_database_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _DATABASE_SCHEMES:
        raise ConfigurationError(
            f"ANJIAN_DATABASE_URL must be a sqlite:/// path or a postgresql:// URL, got {url!r}"
        )
    return f"{_DATABASE_SCHEMES[scheme]}://{rest}"


def _check_scheme(name: str, url: str, allowed: set[str]) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in allowed:
        choices = ", ".join(f"{s}://" for s in sorted(allowed))
        raise ConfigurationError(f"{name} must start with one of {choices}; got {url!r}")


# The idle timeouts an owner (or the platform's default) may choose: from five minutes to a day.
IDLE_TIMEOUT_MINUTES = (5, 24 * 60)


# The proof-of-work difficulties a deployment may choose (CONTRACT.md: at most 22 bits).
REPORT_POW_DIFFICULTY = (1, 22)


def _positive_int(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {value}")
    return value


def _bounded(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    value = _positive_int(name, raw, default)
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _networks(name: str, raw: str | None) -> tuple[Network, ...]:
    networks: list[Network] = []
    for item in (raw or "").replace(";", ",").split(","):
        if not item.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=True))
        except ValueError as exc:
            raise ConfigurationError(
                f"{name} must list networks in CIDR form such as 10.20.0.0/16, ::1/128; "
                f"{item.strip()!r}: {exc}"
            ) from None
    return tuple(networks)


def _public_url(raw: str | None) -> str | None:
    """ANJIAN_PUBLIC_URL as an origin without a trailing slash, or a clear refusal."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    example = "such as https://anjian.example.com"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"ANJIAN_PUBLIC_URL is not a URL ({exc}): {raw!r}") from None
    if parts.scheme not in _PUBLIC_SCHEMES or not parts.hostname:
        raise ConfigurationError(
            f"ANJIAN_PUBLIC_URL must be an http:// or https:// address {example}; got {raw!r}"
        )
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise ConfigurationError(
            f"ANJIAN_PUBLIC_URL may not have a query or a fragment ({example}); got {raw!r}"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"ANJIAN_PUBLIC_URL may not carry a user or password; got {raw!r}")
    if parts.path not in ("", "/"):
        raise ConfigurationError(
            "ANJIAN_PUBLIC_URL is the server's origin only: the portals live at /app/ and "
            f"/gov/ of it, so a path cannot be served ({example}); got {raw!r}"
        )
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + ("" if port is None else f":{port}")


def _flag(name: str, raw: str | None) -> bool:
    value = (raw or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


def _environment(values: dict[str, str]) -> tuple[str, bool]:
    """The process's environment and whether its timers run on the test clock."""
    environment = (values.get("ANJIAN_ENV") or "production").strip().lower()
    if environment not in _ENVIRONMENTS:
        choices = " or ".join(_ENVIRONMENTS)
        raise ConfigurationError(f"ANJIAN_ENV must be {choices}, got {environment!r}")
    test_clock = _flag("ANJIAN_TEST_CLOCK", values.get("ANJIAN_TEST_CLOCK"))
    if test_clock and environment != "test":
        raise ConfigurationError(
            "ANJIAN_TEST_CLOCK lets anyone move the server's clock: it is refused unless "
            "ANJIAN_ENV=test"
        )
    return environment, test_clock


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read settings once; ``environ`` overrides the process environment (tests)."""
    env = dict(os.environ if environ is None else environ)
    dotenv = _read_dotenv(Path(env.get("ANJIAN_ENV_FILE", ".env")))
    values = {**dotenv, **{k: v for k, v in env.items() if k.startswith("ANJIAN_")}}

    data_dir = Path(values.get("ANJIAN_DATA_DIR") or "./var").expanduser().resolve()

    database_url = values.get("ANJIAN_DATABASE_URL") or f"sqlite:///{data_dir / 'anjian.db'}"
    database_url = _normalise_database_url(database_url)

    clickhouse_url = values.get("ANJIAN_CLICKHOUSE_URL") or f"chdb://{data_dir / 'clickhouse'}"
    _check_scheme("ANJIAN_CLICKHOUSE_URL", clickhouse_url, _CLICKHOUSE_SCHEMES)
    if clickhouse_url.startswith("chdb://") and not clickhouse_url.startswith("chdb:///"):
        raise ConfigurationError(
            f"ANJIAN_CLICKHOUSE_URL: a chdb DSN needs an absolute path (chdb:///...), "
            f"got {clickhouse_url!r}"
        )

    broker_url = values.get("ANJIAN_BROKER_URL") or "stub://"
    _check_scheme("ANJIAN_BROKER_URL", broker_url, _BROKER_SCHEMES)

    mqtt_url = values.get("ANJIAN_MQTT_URL") or None
    if mqtt_url is not None:
        _check_scheme("ANJIAN_MQTT_URL", mqtt_url, _MQTT_SCHEMES)
    # The broker's dynamic-security admin: device accounts follow the registry.
    mqtt_admin_url = values.get("ANJIAN_MQTT_ADMIN_URL") or None
    if mqtt_admin_url is not None:
        _check_scheme("ANJIAN_MQTT_ADMIN_URL", mqtt_admin_url, _MQTT_SCHEMES)

    environment, test_clock = _environment(values)

    key_file = values.get("ANJIAN_MASTER_KEY_FILE")
    master_key_file = (
        Path(key_file).expanduser().resolve() if key_file else data_dir / "keyring.json"
    )

    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        clickhouse_url=clickhouse_url,
        clickhouse_cluster=values.get("ANJIAN_CLICKHOUSE_CLUSTER") or None,
        broker_url=broker_url,
        mqtt_url=mqtt_url,
        mqtt_admin_url=mqtt_admin_url,
        master_key_file=master_key_file,
        token_ttl_seconds=_positive_int(
            "ANJIAN_TOKEN_TTL_SECONDS", values.get("ANJIAN_TOKEN_TTL_SECONDS"), 12 * 3600
        ),
        session_idle_minutes=_bounded(
            "ANJIAN_SESSION_IDLE_MINUTES",
            values.get("ANJIAN_SESSION_IDLE_MINUTES"),
            30,
            *IDLE_TIMEOUT_MINUTES,
        ),
        spool_dir=(
            Path(values["ANJIAN_SPOOL_DIR"]).expanduser().resolve()
            if values.get("ANJIAN_SPOOL_DIR")
            else data_dir / "spool"
        ),
        spool_max_bytes=_positive_int(
            "ANJIAN_SPOOL_MAX_BYTES", values.get("ANJIAN_SPOOL_MAX_BYTES"), 1024 * 1024 * 1024
        ),
        offline_after_seconds=_positive_int(
            "ANJIAN_OFFLINE_AFTER_SECONDS", values.get("ANJIAN_OFFLINE_AFTER_SECONDS"), 300
        ),
        password_log2_n=_bounded(
            "ANJIAN_PASSWORD_SCRYPT_LOG2N", values.get("ANJIAN_PASSWORD_SCRYPT_LOG2N"), 15, 10, 20
        ),
        webhook_allow_networks=_networks(
            "ANJIAN_WEBHOOK_ALLOW_NETWORKS", values.get("ANJIAN_WEBHOOK_ALLOW_NETWORKS")
        ),
        public_introspection=_flag(
            "ANJIAN_GRAPHQL_PUBLIC_INTROSPECTION", values.get("ANJIAN_GRAPHQL_PUBLIC_INTROSPECTION")
        ),
        trusted_proxies=_networks("ANJIAN_TRUSTED_PROXIES", values.get("ANJIAN_TRUSTED_PROXIES")),
        limits=load_limits(values),
        report_pow_difficulty=_bounded(
            "ANJIAN_REPORT_POW_DIFFICULTY",
            values.get("ANJIAN_REPORT_POW_DIFFICULTY"),
            18,
            *REPORT_POW_DIFFICULTY,
        ),
        environment=environment,
        test_clock=test_clock,
        public_url=_public_url(values.get("ANJIAN_PUBLIC_URL")),
    )
