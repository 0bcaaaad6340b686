-- Retention per row: the ingest path stamps each reading with its site's subscription retention,
-- so one table serves every plan and the TTL drops each site's rows on its own schedule.
ALTER TABLE readings ADD COLUMN IF NOT EXISTS retention_days UInt16 DEFAULT 365;
ALTER TABLE readings MODIFY TTL toDateTime(ts) + toIntervalDay(retention_days);

-- One-minute rollup. Same ORDER BY as the raw table with the bucket in place of ts: a range
-- query for one sensor reads one contiguous run. Deduplicated like the raw table, so a replayed
-- spool block is counted once here too (inserts set deduplicate_blocks_in_dependent_materialized_views).
CREATE TABLE IF NOT EXISTS readings_1m
(
    tenant_id      UUID,
    site_id        SimpleAggregateFunction(any, UUID),
    sensor_id      UUID,
    bucket         DateTime('UTC'),
    min_value      SimpleAggregateFunction(min, Float64),
    max_value      SimpleAggregateFunction(max, Float64),
    sum_value      SimpleAggregateFunction(sum, Float64),
    count          SimpleAggregateFunction(sum, UInt64),
    last_value     AggregateFunction(argMax, Float64, DateTime64(3, 'UTC')),
    retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant_id, sensor_id, bucket)
TTL bucket + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS readings_1m_mv TO readings_1m AS
SELECT tenant_id, any(site_id) AS site_id, sensor_id, toStartOfMinute(ts) AS bucket,
       min(value) AS min_value, max(value) AS max_value, sum(value) AS sum_value,
       count() AS count, argMaxState(value, ts) AS last_value,
       max(retention_days) AS retention_days
FROM readings
GROUP BY tenant_id, sensor_id, bucket;

-- One-hour rollup, kept longer than raw data would be worth: long ranges read this.
CREATE TABLE IF NOT EXISTS readings_1h
(
    tenant_id      UUID,
    site_id        SimpleAggregateFunction(any, UUID),
    sensor_id      UUID,
    bucket         DateTime('UTC'),
    min_value      SimpleAggregateFunction(min, Float64),
    max_value      SimpleAggregateFunction(max, Float64),
    sum_value      SimpleAggregateFunction(sum, Float64),
    count          SimpleAggregateFunction(sum, UInt64),
    last_value     AggregateFunction(argMax, Float64, DateTime64(3, 'UTC')),
    retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(bucket)
ORDER BY (tenant_id, sensor_id, bucket)
TTL bucket + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS readings_1h_mv TO readings_1h AS
SELECT tenant_id, any(site_id) AS site_id, sensor_id, toStartOfHour(ts) AS bucket,
       min(value) AS min_value, max(value) AS max_value, sum(value) AS sum_value,
       count() AS count, argMaxState(value, ts) AS last_value,
       max(retention_days) AS retention_days
FROM readings
GROUP BY tenant_id, sensor_id, bucket;

-- site_id depends on sensor_id (or device_id), so any() keeps it through merges.

-- Latest value per sensor: one row per sensor after merges, so "latest" never scans history.
CREATE TABLE IF NOT EXISTS sensor_latest
(
    tenant_id  UUID,
    site_id    SimpleAggregateFunction(any, UUID),
    sensor_id  UUID,
    last_ts    SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    last_value AggregateFunction(argMax, Float64, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, sensor_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS sensor_latest_mv TO sensor_latest AS
SELECT tenant_id, any(site_id) AS site_id, sensor_id, max(ts) AS last_ts,
       argMaxState(value, ts) AS last_value
FROM readings
GROUP BY tenant_id, sensor_id;

-- Discrete events from wearables and AI cameras. Ordered by device and time: the views are
-- "what did this camera/wearable report", always within one tenant.
CREATE TABLE IF NOT EXISTS events
(
    tenant_id      UUID,
    site_id        UUID,
    device_id      UUID,
    sensor_id      Nullable(UUID),
    type           LowCardinality(String),
    ts             DateTime64(3, 'UTC'),
    attributes     String,
    snapshot       Nullable(String),
    batch_id       UUID,
    retention_days UInt16 DEFAULT 365
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant_id, device_id, ts)
TTL toDateTime(ts) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

-- When a device was heard from: heartbeats, and one row per accepted batch of data.
CREATE TABLE IF NOT EXISTS device_seen
(
    tenant_id UUID,
    site_id   UUID,
    device_id UUID,
    ts        DateTime64(3, 'UTC'),
    source    LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant_id, device_id, ts)
TTL toDateTime(ts) + toIntervalDay(30)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS device_last_seen
(
    tenant_id UUID,
    site_id   SimpleAggregateFunction(any, UUID),
    device_id UUID,
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, device_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS device_last_seen_mv TO device_last_seen AS
SELECT tenant_id, any(site_id) AS site_id, device_id, max(ts) AS last_seen
FROM device_seen
GROUP BY tenant_id, device_id;
