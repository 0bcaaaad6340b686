// What the notice pages decide before anything is sent: a notice's deadline as the end of a
// day in China Standard Time (regulators set a day, not a minute), the items to send, what is
// wrong with a draft, and the notice list as CSV.
import type { CsvCell } from '@/shared/format/csv'

import {
  MAX_BASIS,
  MAX_FINDING,
  MAX_RESPONSE,
  type NoticeItemDraft,
  type NoticeItemInput,
  type NoticeRow,
  type NoticeStatus,
} from './api'

type Translate = (key: string, values?: Record<string, unknown>) => string

const CHINA_OFFSET = '+08:00'

/** `2026-12-20` → the last second of that day in Beijing, as the server takes it. */
export function deadlineOfDay(day: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null
  const instant = new Date(`${day}T23:59:59${CHINA_OFFSET}`)
  return Number.isNaN(instant.getTime()) ? null : instant.toISOString()
}

/** The day in Beijing `days` after `now`, for the date field's first value. */
export function dayInChina(now: Date, days = 0): string {
  const shifted = new Date(now.getTime() + days * 86_400_000 + 8 * 3_600_000)
  return shifted.toISOString().slice(0, 10)
}

export function emptyItem(): NoticeItemDraft {
  return { finding: '', basis: '' }
}

/** The items as the server takes them: rows left wholly empty (no text, no photo) are
 * dropped, no basis is null, photos only where there are some. */
export function itemInputs(drafts: readonly NoticeItemDraft[]): NoticeItemInput[] {
  return drafts
    .filter((d) => d.finding.trim() || d.basis.trim() || d.photos?.length)
    .map((d) => ({
      finding: d.finding.trim(),
      basis: d.basis.trim() || null,
      ...(d.photos?.length ? { photos: [...d.photos] } : {}),
    }))
}

/** What keeps a draft notice from being issued: message keys with their values. */
export function draftProblems(
  day: string,
  drafts: readonly NoticeItemDraft[],
  now: Date,
): { key: string; values?: Record<string, unknown> }[] {
  const problems: { key: string; values?: Record<string, unknown> }[] = []
  const deadline = deadlineOfDay(day)
  if (deadline === null) problems.push({ key: 'notices.problem.noDeadline' })
  else if (new Date(deadline) <= now) problems.push({ key: 'notices.problem.pastDeadline' })
  const items = itemInputs(drafts)
  if (!items.length) problems.push({ key: 'notices.problem.noItems' })
  items.forEach((item, i) => {
    if (!item.finding) problems.push({ key: 'notices.problem.noFinding', values: { n: i + 1 } })
    if (item.finding.length > MAX_FINDING) problems.push({ key: 'notices.problem.findingTooLong', values: { n: i + 1, max: MAX_FINDING } })
    if ((item.basis ?? '').length > MAX_BASIS) problems.push({ key: 'notices.problem.basisTooLong', values: { n: i + 1, max: MAX_BASIS } })
  })
  return problems
}

/** What keeps an answer from being submitted: every item answered, each within the limit. */
export function answerProblems(texts: readonly string[]): { key: string; values?: Record<string, unknown> }[] {
  return texts.flatMap((text, i) => {
    const trimmed = text.trim()
    if (!trimmed) return [{ key: 'notices.problem.noAnswer', values: { n: i + 1 } }]
    if (trimmed.length > MAX_RESPONSE) return [{ key: 'notices.problem.answerTooLong', values: { n: i + 1, max: MAX_RESPONSE } }]
    return []
  })
}

/** Whether the enterprise is the one to act (answer, or answer again). */
export function waitsForEnterprise(status: NoticeStatus): boolean {
  return status === 'ISSUED' || status === 'RETURNED'
}

export const NOTICE_COLUMNS = ['number', 'enterprise', 'site', 'status', 'overdue', 'deadline', 'issuedAt', 'receivedAt'] as const

/** One row per notice, as listed; times as the server gives them (UTC, ISO 8601). */
export function noticeRows(rows: readonly NoticeRow[], t: Translate): CsvCell[][] {
  return rows.map((n) => [
    n.number,
    n.site.tenant.name,
    n.site.name,
    t(`noticeStatus.${n.status}`),
    n.overdue ? t('notices.overdue') : '',
    n.deadline,
    n.issuedAt,
    n.receivedAt,
  ])
}

export function noticeHeader(t: Translate): string[] {
  return NOTICE_COLUMNS.map((column) => t(`notices.column.${column}`))
}
