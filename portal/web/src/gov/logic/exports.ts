// The government tables as CSV (rankings, data quality) and the figures they share with the
// page: minutes for MTTA/MTTR, percentages for rates. The header is the page's own language.
import type { CsvCell } from '@/shared/format/csv'

import type { DataQualityPoint, EnterpriseRanking } from '../api'
import { percent } from './figures'

type Translate = (key: string) => string

/** Seconds as minutes with one decimal (`90` → `1.5`), `—` without a figure. */
export function minutes(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—'
  return (Math.round(seconds / 6) / 10).toFixed(1)
}

export const RANKING_COLUMNS = [
  'rank',
  'enterprise',
  'sites',
  'sensors',
  'onlineRate',
  'alarms',
  'mttaMinutes',
  'mttrMinutes',
  'falsePositiveRate',
  'overdueNotices',
] as const

/** One row per enterprise, in the page's order, with its place from 1. */
export function rankingRows(rows: readonly EnterpriseRanking[]): CsvCell[][] {
  return rows.map((r, i) => [
    i + 1,
    r.tenant.name,
    r.sites,
    r.sensors,
    percent(r.onlineRate),
    r.alarms,
    minutes(r.mttaSeconds),
    minutes(r.mttrSeconds),
    percent(r.falsePositiveRate),
    r.overdueNotices,
  ])
}

export function rankingHeader(t: Translate): string[] {
  return RANKING_COLUMNS.map((column) => t(`govRankings.column.${column}`))
}

export const QUALITY_COLUMNS = ['enterprise', 'site', 'sensor', 'kind', 'problem', 'since', 'lastSeen', 'lastValue'] as const

/** One row per problem point; times as the server gives them (UTC, ISO 8601). */
export function qualityRows(points: readonly DataQualityPoint[], t: Translate): CsvCell[][] {
  return points.map((p) => [
    p.site.tenant.name,
    p.site.name,
    p.sensor.code,
    p.sensor.kind,
    t(`govQuality.problem.${p.problem}`),
    p.since,
    p.lastSeen,
    p.lastValue === null ? null : `${p.lastValue} ${p.sensor.unit}`,
  ])
}

export function qualityHeader(t: Translate): string[] {
  return QUALITY_COLUMNS.map((column) => t(`govQuality.column.${column}`))
}

/** `name-320100-2026-12-03.csv`: what, where, and the day it was taken. */
export function exportName(what: string, code: string, now: Date): string {
  return `${what}-${code}-${now.toISOString().slice(0, 10)}.csv`
}
