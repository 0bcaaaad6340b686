// Every range the chart offers stays at or under ~1,500 points with a bucket a person reads
// off an axis, and asks the server for a window that ends now.
import { describe, expect, it } from 'vitest'

import { bucketSeconds, MAX_POINTS, RANGE_SECONDS, RANGES, windowFor } from '@/app/logic/time-range'

describe('bucketSeconds', () => {
  it.each([
    ['1h', 5],
    ['6h', 15],
    ['24h', 60],
    ['7d', 600],
    ['30d', 1800],
    ['90d', 7200],
  ] as const)('picks %s → %i s', (range, expected) => {
    expect(bucketSeconds(RANGE_SECONDS[range])).toBe(expected)
  })

  it('keeps every range at or under the point limit, and not far below it', () => {
    for (const range of RANGES) {
      const points = Math.ceil(RANGE_SECONDS[range] / bucketSeconds(RANGE_SECONDS[range]))
      expect(points, range).toBeLessThanOrEqual(MAX_POINTS)
      expect(points, range).toBeGreaterThan(MAX_POINTS / 4)
    }
  })

  it('uses whole days beyond the listed sizes and one second for short spans', () => {
    expect(bucketSeconds(10 * 365 * 86400)).toBe(3 * 86400)
    expect(bucketSeconds(60)).toBe(1)
  })

  it('refuses a span that is not positive', () => {
    expect(() => bucketSeconds(0)).toThrow(RangeError)
    expect(() => bucketSeconds(Number.NaN)).toThrow(RangeError)
  })
})

describe('windowFor', () => {
  it('spans the range, ends at or just after now, and is aligned to its bucket', () => {
    const now = Date.parse('2026-12-02T12:00:07.500Z')
    const window = windowFor('24h', now)
    expect(window.bucketSeconds).toBe(60)
    expect(window.to).toBe('2026-12-02T12:01:00.000Z')
    expect(window.from).toBe('2026-12-01T12:01:00.000Z')
  })
})
