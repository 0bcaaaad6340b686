"""The numbers that bound what one request may cost the server (settings ``ANJIAN_*``).

A GraphQL request is refused before it runs when its cost is over the budget, refused at once
when its caller already has too many operations in flight, and stopped while it runs when a
ClickHouse query or the response outgrows its limit. Each number is chosen generous for a real
console page and small enough that one process stays responsive under an attack; the reasons
are next to each default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from backend.core.errors import ConfigurationError

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    # The whole request's cost in result rows (one per object in the answer: a telemetry
    # bucket, a sensor, an alarm…), summed over every field and multiplied through lists. Real
    # console pages cost far less: a site of 1,000 sensors with their latest values ~2,000; a
    # day of one sensor at 60 s ~1,700, a week at 1 h ~500 (each with its queries' price); a
    # page of 100 alarms with sensor and site 300. The contract's `sites { sensors { latest } }`
    # is priced at the model's nominal ten sites of 1,000 sensors, 20,010, and fits with a
    # chart beside it; so does one chart at the field's own 10,000-bucket maximum. The probe's
    # 50 ten-day charts at 87 s cost ~510,000. Why not more: this process serves a bucket in
    # ~230 µs of one core (measured on 2 cores; ~470 µs when they are busy), so a budget-sized
    # request already takes ~6 s of CPU on the event loop.
    graphql_cost_budget: int = 25_000
    # Operations one principal (a user; an anonymous caller by client address) may have in
    # flight in this process. A console page issues a handful of queries at once; more than
    # this from one caller is a script, which can wait a second.
    graphql_max_in_flight_per_principal: int = 4
    # Operations in flight in this process from everyone together: beyond this the database
    # pool (20 connections by default) and the worker threads are the bottleneck anyway, and
    # queueing more only makes every answer late.
    graphql_max_in_flight: int = 32
    # The cost of the operations in flight in this process from everyone together: four
    # budget-sized requests. It bounds the work queued on the event loop however many accounts
    # an attacker uses, while any number of cheap requests still run beside the big ones.
    graphql_max_cost_in_flight: int = 100_000
    # The serialised result (the "data" JSON) of one operation. The largest legitimate answer
    # is an enterprise-plan site of 10,000 sensors with their latest values (~2 MB) or a
    # budget-sized set of charts (~6 MB).
    graphql_max_response_bytes: int = 16 * MIB
    # ClickHouse, per query (every query the telemetry package sends). A console query answers
    # in milliseconds; 10 s is ~1 billion scanned rows, no chart's business.
    clickhouse_max_execution_seconds: int = 10
    # Ten times the largest legitimate result (latest values of 10,000 sensors, or a
    # 10,000-bucket chart).
    clickhouse_max_result_rows: int = 100_000
    clickhouse_max_result_bytes: int = 64 * MIB
    # The embedded engine shares this process's memory; a query of the telemetry package
    # aggregates at most a sensor's range or a site's latest values and needs a few MiB.
    clickhouse_max_memory_bytes: int = 1024 * MIB
    # ClickHouse queries running at once in this process. The embedded engine serialises
    # queries of one client anyway; the cap keeps waiting requests from holding every worker
    # thread and database connection. A query waits for a slot at most a few seconds.
    clickhouse_max_concurrent_queries: int = 4

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or value <= 0:
                raise ConfigurationError(f"limit {name} must be a positive integer, got {value!r}")


_VARIABLES = {
    "graphql_cost_budget": "ANJIAN_GRAPHQL_COST_BUDGET",
    "graphql_max_in_flight_per_principal": "ANJIAN_GRAPHQL_MAX_IN_FLIGHT_PER_PRINCIPAL",
    "graphql_max_in_flight": "ANJIAN_GRAPHQL_MAX_IN_FLIGHT",
    "graphql_max_cost_in_flight": "ANJIAN_GRAPHQL_MAX_COST_IN_FLIGHT",
    "graphql_max_response_bytes": "ANJIAN_GRAPHQL_MAX_RESPONSE_BYTES",
    "clickhouse_max_execution_seconds": "ANJIAN_CLICKHOUSE_MAX_EXECUTION_SECONDS",
    "clickhouse_max_result_rows": "ANJIAN_CLICKHOUSE_MAX_RESULT_ROWS",
    "clickhouse_max_result_bytes": "ANJIAN_CLICKHOUSE_MAX_RESULT_BYTES",
    "clickhouse_max_memory_bytes": "ANJIAN_CLICKHOUSE_MAX_MEMORY_BYTES",
    "clickhouse_max_concurrent_queries": "ANJIAN_CLICKHOUSE_MAX_CONCURRENT_QUERIES",
}


def load_limits(values: Mapping[str, str]) -> Limits:
    """The limits from ``ANJIAN_*`` values; unset means the default above."""
    chosen: dict[str, int] = {}
    for name, variable in _VARIABLES.items():
        raw = values.get(variable)
        if raw is None or raw.strip() == "":
            continue
        try:
            value = int(raw)
        except ValueError:
            raise ConfigurationError(f"{variable} must be an integer, got {raw!r}") from None
        if value <= 0:
            raise ConfigurationError(f"{variable} must be positive, got {value}")
        chosen[name] = value
    return Limits(**chosen)
