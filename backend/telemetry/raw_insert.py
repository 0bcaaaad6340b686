"""The raw engine's speed, for comparison: a direct clickhouse-connect columnar insert.

Run in its own process (``python -m backend.telemetry.raw_insert ROWS SENSORS``): it opens a
scratch chdb directory (a running server owns its own), applies the same migrations, inserts
ROWS readings of the same shape as ingest writes, and prints rows per second.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import clickhouse_connect

from backend.telemetry import migrate

BLOCK = 100_000
COLUMNS = ["tenant_id", "site_id", "sensor_id", "ts", "value", "retention_days"]


def rows_per_second(rows: int, sensors: int) -> float:
    client = clickhouse_connect.get_client(dsn="chdb://" + tempfile.mkdtemp(prefix="anjian-raw-"))
    migrate.migrate(client)
    tenant, site = uuid.uuid4(), uuid.uuid4()
    sensor_ids = [uuid.uuid4() for _ in range(sensors)]
    now = datetime.now(UTC)
    columns = [
        [tenant] * BLOCK,
        [site] * BLOCK,
        [sensor_ids[i % sensors] for i in range(BLOCK)],
        [now - timedelta(milliseconds=i) for i in range(BLOCK)],
        [20.0 + (i % 40) for i in range(BLOCK)],
        [365] * BLOCK,
    ]
    started = time.perf_counter()
    done = 0
    while done < rows:
        client.insert("readings", columns, column_names=COLUMNS, column_oriented=True)
        done += BLOCK
    return done / (time.perf_counter() - started)


if __name__ == "__main__":
    print(rows_per_second(int(sys.argv[1]), int(sys.argv[2])))
