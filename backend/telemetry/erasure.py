"""Erasing one tenant's telemetry: every ClickHouse table that holds tenant rows.

Used when an offboarded tenant's retention floors have passed. Raw readings, the rollups,
latest values, events (wearable falls, SOS, positions) and device presence all go; the
deletes are mutations that ClickHouse applies before the call returns (``mutations_sync``),
so a count afterwards is zero. Rows expire by TTL otherwise; this is for erasure on request.
"""

from __future__ import annotations

import uuid

from backend.telemetry.query import SCOPED_TABLES
from backend.telemetry.store import ClickHouseClient

# Every table keyed by tenant_id (the ones a scoped query may read): rollups and latest values
# included, so nothing derived from the tenant's readings survives.
TENANT_TABLES = tuple(sorted(SCOPED_TABLES))


def tenant_row_counts(client: ClickHouseClient, tenant_id: uuid.UUID) -> dict[str, int]:
    return {
        table: int(
            client.query(
                f"SELECT count() FROM {table} WHERE tenant_id = {{tenant:UUID}}",
                parameters={"tenant": tenant_id},
            ).result_rows[0][0]
        )
        for table in TENANT_TABLES
    }


def erase_tenant(client: ClickHouseClient, tenant_id: uuid.UUID) -> dict[str, int]:
    """Delete every row of ``tenant_id``; returns how many rows each table held."""
    before = tenant_row_counts(client, tenant_id)
    for table, rows in before.items():
        if rows:
            client.command(
                f"ALTER TABLE {table} DELETE WHERE tenant_id = {{tenant:UUID}}",
                parameters={"tenant": tenant_id},
                settings={"mutations_sync": 2},
            )
    return before
