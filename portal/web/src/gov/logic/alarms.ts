// 辖区报警: the filters as the `alarms` query's variables, and the alarm events of the
// subscription merged into the list shown, so a raise or a status change shows without a reload.
// What an event cannot tell (the site, the time it was raised) is read by fetching the alarm.
import type { AlarmEvent } from '@/app/api'
import type { Severity } from '@/app/logic/sensor-state'
import type { CsvCell } from '@/shared/format/csv'
import type { SupervisionStatus } from '@/shared/supervision/api'

import { divisionPrefix } from './divisions'

export const STATUS_CHOICES = ['ACTIVE', 'ALL'] as const
export type StatusChoice = (typeof STATUS_CHOICES)[number]

export const RANGE_CHOICES = ['all', '24h', '7d', '30d', '90d'] as const
export type RangeChoice = (typeof RANGE_CHOICES)[number]

const HOUR_MS = 3_600_000
const RANGE_MS: Record<Exclude<RangeChoice, 'all'>, number> = {
  '24h': 24 * HOUR_MS,
  '7d': 7 * 24 * HOUR_MS,
  '30d': 30 * 24 * HOUR_MS,
  '90d': 90 * 24 * HOUR_MS,
}

export interface AlarmFilters {
  status: StatusChoice
  severity: Severity | null
  /** A division of the jurisdiction (its own or a child), or null for the whole of it. */
  division: string | null
  range: RangeChoice
}

export const DEFAULT_FILTERS: AlarmFilters = { status: 'ACTIVE', severity: null, division: null, range: 'all' }

export interface JurisdictionAlarm {
  id: string
  severity: Severity
  status: string
  acknowledged: boolean
  overdue: boolean
  value: number | null
  /** The most extreme reading of the alarm: what a cleared alarm reached, not its last value. */
  peakValue: number | null
  raisedAt: string
  clearedAt: string | null
  sensor: { code: string; unit: string } | null
  site: { id: string; name: string; divisionCode: string; tenant: { name: string } }
  supervisions: { status: SupervisionStatus; overdue: boolean }[]
}

const ALARM_ROW = `id severity status acknowledged overdue value peakValue raisedAt clearedAt
  sensor { code unit } site { id name divisionCode tenant { name } } supervisions { status overdue }`

export const JURISDICTION_ALARMS_QUERY = `query JurisdictionAlarms($status: AlarmStatusFilter, $severity: Severity,
  $divisionCode: String, $from: DateTime, $first: Int, $after: ID) {
  alarms(status: $status, severity: $severity, divisionCode: $divisionCode, from: $from, first: $first, after: $after) {
    ${ALARM_ROW}
  }
}`

export const JURISDICTION_ALARM_QUERY = `query JurisdictionAlarm($id: ID!) { alarm(id: $id) { ${ALARM_ROW} } }`

export const CHILD_DIVISIONS_QUERY = `query GovChildDivisions($code: String) {
  jurisdiction(divisionCode: $code) { divisionCode name children { divisionCode name } }
}`

// A type, not an interface: the request takes it as a record of variables.
export type AlarmVariables = {
  status: StatusChoice
  severity: Severity | null
  divisionCode: string | null
  from: string | null
  first: number
  after: string | null
}

/** The start of the chosen range (ISO 8601), null for no limit. */
export function rangeStart(range: RangeChoice, nowMs: number): string | null {
  return range === 'all' ? null : new Date(nowMs - RANGE_MS[range]).toISOString()
}

/** The query's variables for one page: `from` is fixed when the list is first loaded, so
 * paging and live updates look at the same window. */
export function alarmVariables(
  filters: AlarmFilters,
  from: string | null,
  first: number,
  after: string | null = null,
): AlarmVariables {
  return {
    status: filters.status,
    severity: filters.severity,
    divisionCode: filters.division,
    from,
    first,
    after,
  }
}

function isOpen(status: string): boolean {
  return status !== 'CLEARED' && status !== 'CLOSED'
}

/** Whether an alarm belongs in the list these filters (and window start) show. */
export function matches(alarm: JurisdictionAlarm, filters: AlarmFilters, from: string | null): boolean {
  if (filters.status === 'ACTIVE' && (alarm.clearedAt !== null || !isOpen(alarm.status))) return false
  if (filters.severity && alarm.severity !== filters.severity) return false
  if (filters.division && !alarm.site.divisionCode.startsWith(divisionPrefix(filters.division))) return false
  if (from && Date.parse(alarm.raisedAt) < Date.parse(from)) return false
  return true
}

/** Newest first, as the server orders them (raised time, then id, both descending). */
function newerFirst(a: JurisdictionAlarm, b: JurisdictionAlarm): number {
  const byTime = Date.parse(b.raisedAt) - Date.parse(a.raisedAt)
  if (byTime) return byTime
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0
}

export interface Merged {
  alarms: JurisdictionAlarm[]
  /** An alarm the list does not hold that may now belong in it: fetch it, then `place` it. */
  fetch: string | null
}

/** One event applied to the list: a change of a listed alarm in place (or out of the list
 * once the filters no longer show it); an alarm not listed is for the caller to fetch. */
export function mergeEvent(alarms: readonly JurisdictionAlarm[], event: AlarmEvent, filters: AlarmFilters): Merged {
  const { id, severity, status } = event.alarm
  const index = alarms.findIndex((a) => a.id === id)
  if (index < 0) {
    const mayShow =
      (filters.status === 'ALL' || isOpen(status)) && (!filters.severity || filters.severity === severity)
    return { alarms: [...alarms], fetch: mayShow ? id : null }
  }
  const before = alarms[index]!
  const acknowledged = before.acknowledged || status === 'ACKNOWLEDGED' || status === 'DISPATCHED'
  const updated: JurisdictionAlarm = {
    ...before,
    severity,
    status,
    acknowledged,
    overdue: acknowledged || !isOpen(status) ? false : before.overdue || event.kind === 'ESCALATED',
    clearedAt: isOpen(status) ? before.clearedAt : (before.clearedAt ?? new Date().toISOString()),
  }
  const next = [...alarms]
  const keep = (filters.status === 'ALL' || isOpen(status)) && (!filters.severity || filters.severity === severity)
  if (keep) next[index] = updated
  else next.splice(index, 1)
  return { alarms: next, fetch: null }
}

/** A fetched alarm put where it belongs (replacing its older copy), if the filters show it.
 * With more pages to load, an alarm older than the last one listed is left to those pages. */
export function place(
  alarms: readonly JurisdictionAlarm[],
  alarm: JurisdictionAlarm,
  filters: AlarmFilters,
  from: string | null,
  more: boolean,
): JurisdictionAlarm[] {
  const rest = alarms.filter((a) => a.id !== alarm.id)
  if (!matches(alarm, filters, from)) return rest
  const last = rest.at(-1)
  if (more && last && newerFirst(alarm, last) > 0) return rest
  return [...rest, alarm].sort(newerFirst)
}

/** The page's rows for a refresh: the newest `asked` from the server, then whatever was listed
 * below the last of them (older, from "load more"), without duplicates. An answer shorter
 * than asked is the whole list: what it left out no longer matches. */
export function refreshed(
  loaded: readonly JurisdictionAlarm[],
  fresh: readonly JurisdictionAlarm[],
  asked: number,
): JurisdictionAlarm[] {
  if (fresh.length < asked) return [...fresh]
  const seen = new Set(fresh.map((a) => a.id))
  const last = fresh.at(-1)
  const older = last ? loaded.filter((a) => !seen.has(a.id) && newerFirst(a, last) > 0) : []
  return [...fresh, ...older]
}

/** The open supervision (督办) of an alarm, one at most. */
export function openSupervision(alarm: JurisdictionAlarm): JurisdictionAlarm['supervisions'][number] | undefined {
  return alarm.supervisions.find((s) => s.status !== 'ACCEPTED')
}

/** Whether a regulator who may supervise sees the 督办 action on the alarm. */
export function maySupervise(alarm: JurisdictionAlarm): boolean {
  return alarm.clearedAt === null && isOpen(alarm.status) && !openSupervision(alarm)
}

/** The alarm's value: its most extreme reading (a cleared alarm's last one says little). */
export function reading(alarm: JurisdictionAlarm): string {
  const shown = alarm.peakValue ?? alarm.value
  if (shown === null) return '—'
  const value = Number.isInteger(shown) ? String(shown) : shown.toFixed(2)
  return alarm.sensor ? `${value} ${alarm.sensor.unit}` : value
}

type Translate = (key: string) => string

export const ALARM_COLUMNS = [
  'raisedAt',
  'severity',
  'status',
  'enterprise',
  'site',
  'division',
  'sensor',
  'value',
  'handling',
] as const

/** What the row says of the handling: acknowledged, overdue, or waiting. */
export function handlingKey(alarm: JurisdictionAlarm): 'acknowledged' | 'overdue' | 'waiting' | 'over' {
  if (alarm.acknowledged) return 'acknowledged'
  if (alarm.overdue) return 'overdue'
  return isOpen(alarm.status) ? 'waiting' : 'over'
}

/** One CSV row per alarm, in the page's order; times as the server gives them (UTC). */
export function alarmRows(
  alarms: readonly JurisdictionAlarm[],
  t: Translate,
  divisionName: (code: string) => string,
): CsvCell[][] {
  return alarms.map((a) => [
    a.raisedAt,
    t(`severity.${a.severity}`),
    t(`status.${a.status}`),
    a.site.tenant.name,
    a.site.name,
    divisionName(a.site.divisionCode),
    a.sensor?.code ?? null,
    a.peakValue === null && a.value === null ? null : reading(a),
    t(`govAlarms.handling.${handlingKey(a)}`),
  ])
}

export function alarmHeader(t: Translate): string[] {
  return ALARM_COLUMNS.map((column) => t(`govAlarms.column.${column}`))
}
