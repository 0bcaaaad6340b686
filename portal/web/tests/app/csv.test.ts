// CSV that Excel opens with its Chinese intact and nothing it would run as a formula.
import { describe, expect, it } from 'vitest'

import { historyCsv, visibleBuckets } from '@/app/logic/history'
import { zoomPercent } from '@/shared/charts/zoom'
import { BOM, csvText } from '@/shared/format/csv'

describe('csvText', () => {
  it('starts with the byte-order mark and ends lines with CRLF', () => {
    const text = csvText(['时间', '数值'], [['2026-12-02', 1.5]])
    expect(text.startsWith(BOM)).toBe(true)
    expect(text.charCodeAt(0)).toBe(0xfeff)
    expect(text.slice(1)).toBe('时间,数值\r\n2026-12-02,1.5\r\n')
    // UTF-8 encoded, the file starts EF BB BF.
    expect([...new TextEncoder().encode(text).slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
  })

  it('quotes separators, quotes and line breaks', () => {
    expect(csvText(['a'], [['x,y'], ['say "hi"'], ['two\nlines']]).slice(1)).toBe(
      'a\r\n"x,y"\r\n"say ""hi"""\r\n"two\nlines"\r\n',
    )
  })

  it('defuses formulas but keeps negative numbers', () => {
    expect(csvText(['a'], [['=HYPERLINK("x")'], ['-3.5'], [-2], [null]]).slice(1)).toBe(
      "a\r\n\"'=HYPERLINK(\"\"x\"\")\"\r\n-3.5\r\n-2\r\n\r\n",
    )
  })
})

describe('historyCsv', () => {
  it('writes one row per bucket shown, with UTC and local time', () => {
    const text = historyCsv(
      [{ ts: '2026-12-02T12:00:00.000Z', min: 1, max: 3, avg: 2, count: 60 }],
      { utc: '时间（UTC）', local: '时间（本地）', min: '最小值', avg: '平均值', max: '最大值', count: '读数个数' },
      () => '2026/12/02 20:00:00',
    )
    expect(text).toBe(
      `${BOM}时间（UTC）,时间（本地）,最小值,平均值,最大值,读数个数\r\n2026-12-02T12:00:00.000Z,2026/12/02 20:00:00,1,2,3,60\r\n`,
    )
  })
})

describe('visibleBuckets', () => {
  const buckets = Array.from({ length: 11 }, (_, i) => ({
    ts: new Date(Date.UTC(2026, 11, 2, 12, i)).toISOString(),
    min: i,
    max: i,
    avg: i,
    count: 1,
  }))

  it('keeps every bucket unzoomed and those in the zoomed part otherwise', () => {
    expect(visibleBuckets(buckets, 0, 100)).toHaveLength(11)
    expect(visibleBuckets(buckets, 20, 50).map((b) => b.avg)).toEqual([2, 3, 4, 5])
  })
})

describe('zoomPercent', () => {
  it('reads the slider and the wheel shapes, clamped', () => {
    expect(zoomPercent({ start: 10, end: 40 })).toEqual({ start: 10, end: 40 })
    expect(zoomPercent({ batch: [{ start: -5, end: 120 }] })).toEqual({ start: 0, end: 100 })
    expect(zoomPercent({})).toBeNull()
  })
})
