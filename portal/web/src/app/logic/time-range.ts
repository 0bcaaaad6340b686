// The ranges the history chart offers, and the bucket size for each: the smallest "round" size
// (one the server serves from its rollups where it can: whole minutes and hours) that keeps the
// chart at or under MAX_POINTS points, so a 90-day range is not 7.7 million raw readings and a
// one-hour range is not three points.

export const RANGES = ['1h', '6h', '24h', '7d', '30d', '90d'] as const
export type RangeKey = (typeof RANGES)[number]

const HOUR = 3600
export const RANGE_SECONDS: Record<RangeKey, number> = {
  '1h': HOUR,
  '6h': 6 * HOUR,
  '24h': 24 * HOUR,
  '7d': 7 * 24 * HOUR,
  '30d': 30 * 24 * HOUR,
  '90d': 90 * 24 * HOUR,
}

export const MAX_POINTS = 1500

// Sizes a person can read off an axis; every one from a minute up divides an hour or a day.
const BUCKETS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  24 * HOUR,
]

/** The smallest listed bucket giving at most `maxPoints` buckets over `spanSeconds`. */
export function bucketSeconds(spanSeconds: number, maxPoints: number = MAX_POINTS): number {
  if (!(spanSeconds > 0)) throw new RangeError(`a time range must be positive, not ${spanSeconds} s`)
  if (!(maxPoints >= 1)) throw new RangeError(`at least one point is needed, not ${maxPoints}`)
  const fitting = BUCKETS.find((size) => Math.ceil(spanSeconds / size) <= maxPoints)
  if (fitting !== undefined) return fitting
  // Longer than the list foresees: whole days.
  return Math.ceil(spanSeconds / maxPoints / (24 * HOUR)) * 24 * HOUR
}

export interface TimeWindow {
  from: string
  to: string
  bucketSeconds: number
}

/** The window ending now (aligned up to a bucket, so repeated loads ask for the same buckets). */
export function windowFor(range: RangeKey, nowMs: number): TimeWindow {
  const span = RANGE_SECONDS[range]
  const bucket = bucketSeconds(span)
  const end = Math.ceil(nowMs / 1000 / bucket) * bucket
  return {
    from: new Date((end - span) * 1000).toISOString(),
    to: new Date(end * 1000).toISOString(),
    bucketSeconds: bucket,
  }
}
