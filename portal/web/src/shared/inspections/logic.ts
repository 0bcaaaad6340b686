// What the inspection pages decide before anything is sent: what is wrong with a record (the
// site, a day not after today in China time, each finding within its limits) or a day range,
// and the inspection list as CSV.
import type { CsvCell } from '@/shared/format/csv'
import { MAX_BASIS, MAX_FINDING, type NoticeItemDraft } from '@/shared/notices/api'
import { dayInChina, itemInputs } from '@/shared/notices/logic'

import { type InspectionRow, MAX_FINDINGS, MAX_INSPECTORS, MAX_SUMMARY } from './api'

type Translate = (key: string, values?: Record<string, unknown>) => string
export interface Problem {
  key: string
  values?: Record<string, unknown>
}

const DAY = /^\d{4}-\d{2}-\d{2}$/

export interface InspectionDraft {
  siteId: string
  day: string
  summary: string
  findings: NoticeItemDraft[]
  /** The inspectors chosen (user ids); null when the recorder inspected alone. */
  inspectors: string[] | null
}

/** What keeps an inspection from being recorded: message keys with their values. An
 *  inspection may find nothing; a row with only a basis still needs its finding. */
export function recordProblems(draft: InspectionDraft, now: Date): Problem[] {
  const problems: Problem[] = []
  if (!draft.siteId) problems.push({ key: 'inspections.problem.noSite' })
  if (!DAY.test(draft.day)) problems.push({ key: 'inspections.problem.noDay' })
  else if (draft.day > dayInChina(now)) problems.push({ key: 'inspections.problem.futureDay' })
  const items = itemInputs(draft.findings)
  if (items.length > MAX_FINDINGS) problems.push({ key: 'inspections.problem.tooMany', values: { max: MAX_FINDINGS } })
  items.forEach((item, i) => {
    if (!item.finding) problems.push({ key: 'notices.problem.noFinding', values: { n: i + 1 } })
    if (item.finding.length > MAX_FINDING) problems.push({ key: 'notices.problem.findingTooLong', values: { n: i + 1, max: MAX_FINDING } })
    if ((item.basis ?? '').length > MAX_BASIS) problems.push({ key: 'notices.problem.basisTooLong', values: { n: i + 1, max: MAX_BASIS } })
  })
  if (draft.inspectors !== null && !draft.inspectors.length) problems.push({ key: 'inspections.problem.noInspector' })
  if (draft.inspectors !== null && draft.inspectors.length > MAX_INSPECTORS) {
    problems.push({ key: 'inspections.problem.tooManyInspectors', values: { max: MAX_INSPECTORS } })
  }
  if (draft.summary.trim().length > MAX_SUMMARY) problems.push({ key: 'inspections.problem.summaryTooLong', values: { max: MAX_SUMMARY } })
  return problems
}

/** A day range as the list asks for it: empty ends left open; an end before its start is a problem. */
export function dayRange(from: string, to: string): { from: string | null; to: string | null; problem: Problem | null } {
  const start = DAY.test(from) ? from : null
  const end = DAY.test(to) ? to : null
  const problem = start && end && start > end ? { key: 'inspections.problem.range' } : null
  return { from: start, to: end, problem }
}

export const INSPECTION_COLUMNS = ['inspectedOn', 'enterprise', 'site', 'division', 'findings', 'notice', 'noticeStatus'] as const

/** One row per inspection, as listed, its findings joined one a line. */
export function inspectionRows(rows: readonly InspectionRow[], t: Translate, divisionName: (code: string) => string): CsvCell[][] {
  return rows.map((r) => [
    r.inspectedOn,
    r.site.tenant.name,
    r.site.name,
    divisionName(r.site.divisionCode),
    r.findings.map((f, i) => `${i + 1}. ${f.finding}${f.basis ? `（${f.basis}）` : ''}`).join('\n'),
    r.notice?.number ?? '',
    r.notice ? t(`noticeStatus.${r.notice.status}`) : '',
  ])
}

export function inspectionHeader(t: Translate): string[] {
  return INSPECTION_COLUMNS.map((column) => t(`inspections.column.${column}`))
}

/** Whether a notice may still be issued from the inspection: it found something and has none. */
export function mayTurnIntoNotice(inspection: Pick<InspectionRow, 'findings' | 'notice'>): boolean {
  return inspection.findings.length > 0 && inspection.notice === null
}

export interface GovMember {
  userId: string
  email: string
  role: string
  disabled: boolean
  suspended: boolean
}

/** Who may be named an inspector among a division's members: its directors and inspectors
 *  with an account in use, each once, by e-mail. */
export function inspectorChoices(members: readonly GovMember[]): GovMember[] {
  const usable = members.filter((m) => (m.role === 'director' || m.role === 'inspector') && !m.disabled && !m.suspended)
  const unique = usable.filter((m, i) => usable.findIndex((o) => o.userId === m.userId) === i)
  return unique.sort((a, b) => a.email.localeCompare(b.email))
}
