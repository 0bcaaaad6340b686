"""The one way to send SQL to ClickHouse: a query builder that cannot run without a scope.

Every statement it renders filters ``tenant_id`` on the scope's tenants, before any condition
the caller adds, with the ids bound as a typed parameter. There is no method to remove it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Self

from clickhouse_connect.driver.client import Client

from backend.core.errors import ScopeRequired
from tenants.scope import Scope

# Tables a scoped query may read; each has a tenant_id column first in its ORDER BY, so the
# tenant filter is also what prunes the primary index.
SCOPED_TABLES = frozenset(
    {
        "readings",
        "readings_1m",
        "readings_1h",
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
    order_by: list[str] = field(default_factory=list)
    limit: int | None = None

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

    def ordered(self, *expressions: str) -> Self:
        self.order_by.extend(expressions)
        return self

    def limited(self, count: int) -> Self:
        self.limit = int(count)
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
        if self.order_by:
            sql.append(f"ORDER BY {', '.join(self.order_by)}")
        if self.limit is not None:
            sql.append(f"LIMIT {self.limit}")
        parameters = {
            **self.parameters,
            _SCOPE_PARAM: sorted(str(t) for t in self.scope.all_tenant_ids),
        }
        return "\n".join(sql), parameters

    def run(self, client: Client) -> list[tuple[Any, ...]]:
        sql, parameters = self.render()
        return client.query(sql, parameters=parameters).result_rows


def select_from(scope: Scope, table: str, *columns: str) -> ScopedSelect:
    return ScopedSelect(scope=scope, table=table, columns=list(columns))
