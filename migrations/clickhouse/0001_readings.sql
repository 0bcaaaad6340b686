-- Raw readings. Ordered by (tenant_id, sensor_id, ts): every query names one tenant (the scope)
-- and usually one sensor and a time range, so the primary index prunes to exactly that run of
-- rows; it also keeps one sensor's values adjacent, which compresses well with Gorilla/Delta.
CREATE TABLE IF NOT EXISTS readings
(
    tenant_id UUID,
    site_id   UUID,
    sensor_id UUID,
    ts        DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    value     Float64 CODEC(Gorilla, ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant_id, sensor_id, ts)
SETTINGS non_replicated_deduplication_window = 10000
