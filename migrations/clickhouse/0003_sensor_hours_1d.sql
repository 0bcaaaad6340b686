-- Which hours of each calendar day in China time (Asia/Shanghai) every sensor reported in, as a
-- 24-bit mask: a day's online rate is the bits set for its sensors over their hours due. Fed
-- by the hourly rollup (where synthetic history is written too), so a province's month reads a
-- row per sensor and day (3 million) rather than one per sensor-hour (72 million). OR-ing is
-- idempotent: rollup rows not merged yet and blocks sent again set the same bits.
CREATE TABLE IF NOT EXISTS sensor_hours_1d
(
    tenant_id      UUID,
    site_id        SimpleAggregateFunction(any, UUID),
    sensor_id      UUID,
    day            Date,
    hours          SimpleAggregateFunction(groupBitOr, UInt32),
    retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, sensor_id)
TTL day + toIntervalDay(retention_days);

CREATE MATERIALIZED VIEW IF NOT EXISTS sensor_hours_1d_mv TO sensor_hours_1d AS
SELECT tenant_id, any(site_id) AS site_id, sensor_id, toDate(bucket, 'Asia/Shanghai') AS day,
       groupBitOr(bitShiftLeft(toUInt32(1), toHour(bucket, 'Asia/Shanghai'))) AS hours,
       max(retention_days) AS retention_days
FROM readings_1h
GROUP BY tenant_id, sensor_id, day;

-- The hours rolled up before the view existed.
INSERT INTO sensor_hours_1d
SELECT tenant_id, any(site_id), sensor_id, toDate(bucket, 'Asia/Shanghai') AS day,
       groupBitOr(bitShiftLeft(toUInt32(1), toHour(bucket, 'Asia/Shanghai'))),
       max(retention_days)
FROM readings_1h
GROUP BY tenant_id, sensor_id, day;
