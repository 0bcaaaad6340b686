"""The one way to send SQL to ClickHouse: a query builder that cannot run without a scope.

Every statement it renders filters ``tenant_id`` on the scope's tenants, before any condition
the caller adds, with the ids bound as a typed parameter. There is no method to remove it.

Every statement also runs under the process's resource limits: ClickHouse's own per-query
limits (execution time, result rows and bytes, memory), sent as settings of the query so a
runaway query is stopped by the engine, and a cap on the queries running at once, so requests
waiting for ClickHouse cannot take every worker thread and database connection. A limit hit
while a query runs is ``LimitExceeded`` naming the limit; no free slot within a few seconds is
``RateLimited``.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Self

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from backend.core.errors import LimitExceeded, RateLimited, ScopeRequired
from backend.core.limits import Limits
from tenants.scope import Scope

# Tables a scoped query may read; each has a tenant_id column first in its ORDER BY, so the
# tenant filter is also what prunes the primary index.
SCOPED_TABLES = frozenset(
    {
        "readings",
        "readings_1m",
        "readings_1h",
        "sensor_hours_1d",
        "sensor_latest",
        "events",
        "device_seen",
        "device_last_seen",
    }
)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_SCOPE_PARAM = "scope_tenant_ids"
_OWNER_PARAM = "owner_tenant_id"


@dataclass
class ScopedSelect:
    scope: Scope
    table: str
    columns: list[str]
    conditions: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    group_by: list[str] = field(default_factory=list)
    having: list[str] = field(default_factory=list)
    order_by: list[str] = field(default_factory=list)
    limit: int | None = None
    # A second aggregation over this query's groups (``regrouped``).
    outer_columns: list[str] = field(default_factory=list)
    outer_group_by: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.scope, Scope) or not self.scope.all_tenant_ids:
            raise ScopeRequired(f"a ClickHouse query on {self.table} needs a tenant scope")
        if self.table not in SCOPED_TABLES:
            raise ScopeRequired(f"{self.table} is not a tenant-scoped telemetry table")

    def where(self, condition: str, **parameters: Any) -> Self:
        self.conditions.append(condition)
        return self.bind(**parameters)

    def owned_by(self, tenant_id: uuid.UUID) -> Self:
        """Narrow to the tenant owning the site or sensor asked about, so a regulator's wider
        scope never mixes in rows another tenant wrote under the same ids. The scope's filter
        still comes first: a tenant outside the scope simply matches nothing."""
        self.conditions.append(f"tenant_id = {{{_OWNER_PARAM}:UUID}}")
        self.parameters[_OWNER_PARAM] = str(tenant_id)
        return self

    def bind(self, **parameters: Any) -> Self:
        """Bind parameters used in the column list or in conditions."""
        for name in parameters:
            if not _IDENTIFIER.match(name) or name in (_SCOPE_PARAM, _OWNER_PARAM):
                raise ValueError(f"bad parameter name {name!r}")
        self.parameters.update(parameters)
        return self

    def grouped(self, *expressions: str) -> Self:
        self.group_by.extend(expressions)
        return self

    def keeping(self, condition: str, **parameters: Any) -> Self:
        """A condition on the groups (``HAVING``), after the scope's filter on the rows."""
        self.having.append(condition)
        return self.bind(**parameters)

    def ordered(self, *expressions: str) -> Self:
        self.order_by.extend(expressions)
        return self

    def limited(self, count: int) -> Self:
        self.limit = int(count)
        return self

    def regrouped(self, columns: Sequence[str], group_by: Sequence[str]) -> Self:
        """Aggregate this query's groups once more, ``SELECT columns FROM (this) GROUP BY
        group_by``: a figure over small groups (the hours each sensor reported on a day)
        summed to a few, which an exact distinct count over the whole range would have to hold
        in memory at once."""
        self.outer_columns.extend(columns)
        self.outer_group_by.extend(group_by)
        return self

    def render(self) -> tuple[str, dict[str, Any]]:
        conditions = [f"tenant_id IN {{{_SCOPE_PARAM}:Array(UUID)}}", *self.conditions]
        sql = [
            f"SELECT {', '.join(self.columns)}",
            f"FROM {self.table}",
            "WHERE " + "\n  AND ".join(f"({c})" for c in conditions),
        ]
        if self.group_by:
            sql.append(f"GROUP BY {', '.join(self.group_by)}")
        if self.having:
            sql.append("HAVING " + "\n  AND ".join(f"({c})" for c in self.having))
        if self.order_by:
            sql.append(f"ORDER BY {', '.join(self.order_by)}")
        if self.limit is not None:
            sql.append(f"LIMIT {self.limit}")
        if self.outer_columns:
            sql = [
                f"SELECT {', '.join(self.outer_columns)}",
                "FROM (",
                *sql,
                ")",
                f"GROUP BY {', '.join(self.outer_group_by)}",
            ]
        parameters = {
            **self.parameters,
            _SCOPE_PARAM: sorted(str(t) for t in self.scope.all_tenant_ids),
        }
        return "\n".join(sql), parameters

    def run(self, client: Client) -> list[tuple[Any, ...]]:
        sql, parameters = self.render()
        guard = _guard
        with guard.slot():
            try:
                return client.query(sql, parameters=parameters, settings=guard.settings).result_rows
            except DatabaseError as exc:
                raise guard.limit_error(exc) from exc


def select_from(scope: Scope, table: str, *columns: str) -> ScopedSelect:
    return ScopedSelect(scope=scope, table=table, columns=list(columns))


# --- resource limits ------------------------------------------------------------------------

# How long a query waits for one of the process's ClickHouse slots before the request is told
# to come back: a slot frees within a query's execution limit, usually in milliseconds, so a
# longer wait means the process is saturated and holding the caller's thread helps no one.
QUEUE_SECONDS = 3.0
RETRY_AFTER_SECONDS = 2

# ClickHouse error codes of its per-query limits (the same from chdb and from a server).
TIMEOUT_EXCEEDED = 159
TOO_MANY_ROWS_OR_BYTES = 396
MEMORY_LIMIT_EXCEEDED = 241


class QueryGuard:
    """The per-query ClickHouse settings and the cap on concurrent queries, from the limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.settings: dict[str, Any] = {
            "max_execution_time": limits.clickhouse_max_execution_seconds,
            "max_result_rows": limits.clickhouse_max_result_rows,
            "max_result_bytes": limits.clickhouse_max_result_bytes,
            # Throw rather than ClickHouse's other choice, 'break', which returns a silently
            # truncated result: a chart missing its end would look like missing data.
            "result_overflow_mode": "throw",
            "timeout_overflow_mode": "throw",
            "max_memory_usage": limits.clickhouse_max_memory_bytes,
        }
        self._slots = threading.BoundedSemaphore(limits.clickhouse_max_concurrent_queries)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=QUEUE_SECONDS):
            raise RateLimited(
                f"the telemetry store is busy ({self.limits.clickhouse_max_concurrent_queries} "
                f"queries running, none finished within {QUEUE_SECONDS:g} s); retry shortly",
                retry_after_seconds=RETRY_AFTER_SECONDS,
                limit="clickhouse_max_concurrent_queries",
            )
        try:
            yield
        finally:
            self._slots.release()

    def limit_error(self, exc: DatabaseError) -> Exception:
        """The caller's error for a ClickHouse limit hit; any other error is returned as is."""
        code = getattr(exc, "code", None)
        limits = self.limits
        if code == TIMEOUT_EXCEEDED:
            return LimitExceeded(
                f"the telemetry query ran longer than its limit of "
                f"{limits.clickhouse_max_execution_seconds} s (max_execution_time); ask for a "
                "shorter range or larger buckets",
                limit="max_execution_time",
                value=limits.clickhouse_max_execution_seconds,
            )
        if code == TOO_MANY_ROWS_OR_BYTES:
            if "max bytes" in str(exc):
                name, value = "max_result_bytes", limits.clickhouse_max_result_bytes
                what = f"{value:,} bytes"
            else:
                name, value = "max_result_rows", limits.clickhouse_max_result_rows
                what = f"{value:,} rows"
            return LimitExceeded(
                f"the telemetry query's result is over its limit of {what} ({name}); ask for "
                "a shorter range, larger buckets or fewer sensors",
                limit=name,
                value=value,
            )
        if code == MEMORY_LIMIT_EXCEEDED:
            return LimitExceeded(
                f"the telemetry query needed more than its memory limit of "
                f"{limits.clickhouse_max_memory_bytes:,} bytes (max_memory_usage); ask for a "
                "shorter range or larger buckets",
                limit="max_memory_usage",
                value=limits.clickhouse_max_memory_bytes,
            )
        return exc


_guard = QueryGuard(Limits())


def configure(limits: Limits) -> None:
    """Apply the process's limits to every query from now on (done when the client opens)."""
    global _guard
    if _guard.limits != limits:
        _guard = QueryGuard(limits)


def current_limits() -> Limits:
    return _guard.limits
