// 举报处理: the public hazard reports of the jurisdiction as the regulators handle them — the
// queue's filters as the `hazardReports` variables, the deadlines each report has (accept,
// close, feedback) and which are missed, the actions a role may take in a report's status, and
// the queue as CSV. The page hides what a role may not do; the server refuses it anyway.
import type { CsvCell } from '@/shared/format/csv'
import type { Membership } from '@/shared/session/portal'

import type { GovRole } from './roles'

export const REPORT_STATUSES = ['RECEIVED', 'ACCEPTED', 'INVESTIGATING', 'CLOSED', 'REJECTED', 'MERGED'] as const
export type ReportStatus = (typeof REPORT_STATUSES)[number]

export const REJECT_REASONS = ['DUPLICATE', 'OUT_OF_SCOPE', 'INSUFFICIENT_INFORMATION'] as const
export type RejectReason = (typeof REJECT_REASONS)[number]

export interface ReportAssignee {
  userId: string
  email: string
}

export interface ReportRow {
  id: string
  category: string
  divisionCode: string
  handlingDivisionCode: string
  subject: string | null
  status: ReportStatus
  receivedAt: string
  acceptDueAt: string
  acceptedAt: string | null
  closeDueAt: string | null
  closedAt: string | null
  feedbackDueAt: string | null
  feedbackAt: string | null
  overdue: boolean
  anonymous: boolean
  assignee: ReportAssignee | null
}

export interface ReportEvent {
  at: string
  status: ReportStatus
  note: string | null
  internal: boolean
  actorEmail: string | null
}

export interface ReportCandidate {
  id: string
  category: string
  status: ReportStatus
  receivedAt: string
  subject: string | null
  address: string | null
}

export interface ReportDetail extends ReportRow {
  description: string
  address: string | null
  location: { lat: number; lon: number } | null
  observedAt: string | null
  closeExtended: boolean
  outcome: string | null
  publicSummary: string | null
  summaryPublishedAt: string | null
  rewardEligible: boolean | null
  subjectSite: { id: string; name: string; tenant: { name: string } } | null
  linkedInspectionId: string | null
  linkedNoticeId: string | null
  mergedIntoId: string | null
  photos: string[]
  timeline: ReportEvent[]
  duplicateCandidates: ReportCandidate[]
  contactGiven: boolean
}

export interface ReportContact {
  name: string
  mobile: string
}

const ROW = `id category divisionCode handlingDivisionCode subject status receivedAt acceptDueAt acceptedAt
  closeDueAt closedAt feedbackDueAt feedbackAt overdue anonymous assignee { userId email }`

const DETAIL = `${ROW} description address location { lat lon } observedAt closeExtended outcome
  publicSummary summaryPublishedAt rewardEligible subjectSite { id name tenant { name } }
  linkedInspectionId linkedNoticeId mergedIntoId photos
  timeline { at status note internal actorEmail }
  duplicateCandidates { id category status receivedAt subject address }
  contactGiven`

/** Where a regulator reads a report's photos (with the session's CSRF header). */
export const REPORT_PHOTOS_PATH = '/api/v1/reports/photos'

export const REPORT_PAGE = 20
/** The server's largest page: the CSV export walks the queue in these. */
export const REPORT_MAX = 500
export const EXPORT_MAX = 10_000

export const HAZARD_REPORTS_QUERY = `query GovHazardReports($divisionCode: String, $status: HazardReportStatus,
  $overdue: Boolean, $assignedToMe: Boolean, $first: Int, $after: ID) {
  hazardReports(divisionCode: $divisionCode, status: $status, overdue: $overdue, assignedToMe: $assignedToMe,
    first: $first, after: $after) { ${ROW} }
}`

export const HAZARD_REPORT_QUERY = `query GovHazardReport($id: ID!) { hazardReport(id: $id) { ${DETAIL} } }`

export const HAZARD_REPORT_CONTACT_QUERY = `query GovHazardReportContact($id: ID!) {
  hazardReportContact(id: $id) { name mobile }
}`

export const REPORT_ASSIGNEES_QUERY = `query GovReportAssignees($reportId: ID!) {
  reportAssignees(reportId: $reportId) { userId email }
}`

/** The inspections and notices of the report's subject site, to link the investigation to. */
export const REPORT_LINK_OPTIONS_QUERY = `query GovReportLinkOptions($siteId: ID!, $first: Int!) {
  inspections(siteId: $siteId, first: $first) { id inspectedOn }
  rectificationNotices(siteId: $siteId) { id number }
}`
export const LINK_OPTIONS_MAX = 50

export interface LinkOptions {
  inspections: { id: string; inspectedOn: string }[]
  rectificationNotices: { id: string; number: string }[]
}

export const REPORT_ACTIONS = [
  'accept',
  'reject',
  'assign',
  'subject',
  'investigate',
  'close',
  'extend',
  'feedback',
  'summary',
  'publish',
  'merge',
] as const
export type ReportAction = (typeof REPORT_ACTIONS)[number]

/** Each action's mutation: its operation, the field it answers in, and the variables it takes. */
export const ACTION_MUTATIONS: Record<ReportAction, { field: string; query: string }> = {
  accept: {
    field: 'acceptHazardReport',
    query: `mutation AcceptHazardReport($id: ID!, $note: String, $subjectSiteId: ID) {
  acceptHazardReport(id: $id, note: $note, subjectSiteId: $subjectSiteId) { ${DETAIL} }
}`,
  },
  reject: {
    field: 'rejectHazardReport',
    query: `mutation RejectHazardReport($id: ID!, $reason: ReportRejectReason!, $note: String!) {
  rejectHazardReport(id: $id, reason: $reason, note: $note) { ${DETAIL} }
}`,
  },
  assign: {
    field: 'assignHazardReport',
    query: `mutation AssignHazardReport($id: ID!, $assigneeUserId: ID!) {
  assignHazardReport(id: $id, assigneeUserId: $assigneeUserId) { ${DETAIL} }
}`,
  },
  subject: {
    field: 'confirmHazardReportSubject',
    query: `mutation ConfirmHazardReportSubject($id: ID!, $siteId: ID) {
  confirmHazardReportSubject(id: $id, siteId: $siteId) { ${DETAIL} }
}`,
  },
  investigate: {
    field: 'recordHazardReportInvestigation',
    query: `mutation RecordHazardReportInvestigation($id: ID!, $note: String!, $inspectionId: ID, $noticeId: ID) {
  recordHazardReportInvestigation(id: $id, note: $note, inspectionId: $inspectionId, noticeId: $noticeId) { ${DETAIL} }
}`,
  },
  close: {
    field: 'closeHazardReport',
    query: `mutation CloseHazardReport($id: ID!, $outcome: String!, $rewardEligible: Boolean) {
  closeHazardReport(id: $id, outcome: $outcome, rewardEligible: $rewardEligible) { ${DETAIL} }
}`,
  },
  extend: {
    field: 'extendHazardReportDeadline',
    query: `mutation ExtendHazardReportDeadline($id: ID!, $reason: String!) {
  extendHazardReportDeadline(id: $id, reason: $reason) { ${DETAIL} }
}`,
  },
  feedback: {
    field: 'recordHazardReportFeedback',
    query: `mutation RecordHazardReportFeedback($id: ID!, $note: String!) {
  recordHazardReportFeedback(id: $id, note: $note) { ${DETAIL} }
}`,
  },
  summary: {
    field: 'draftHazardReportSummary',
    query: `mutation DraftHazardReportSummary($id: ID!, $summary: String!) {
  draftHazardReportSummary(id: $id, summary: $summary) { ${DETAIL} }
}`,
  },
  publish: {
    field: 'publishHazardReportSummary',
    query: `mutation PublishHazardReportSummary($id: ID!) {
  publishHazardReportSummary(id: $id) { ${DETAIL} }
}`,
  },
  merge: {
    field: 'mergeHazardReport',
    query: `mutation MergeHazardReport($id: ID!, $intoId: ID!) {
  mergeHazardReport(id: $id, intoId: $intoId) { ${DETAIL} }
}`,
  },
}

export interface ReportFilters {
  status: ReportStatus | ''
  overdue: boolean
  assignedToMe: boolean
  /** A division of the jurisdiction, or '' for the whole of it. */
  division: string
}

export const DEFAULT_REPORT_FILTERS: ReportFilters = { status: '', overdue: false, assignedToMe: false, division: '' }

// A type, not an interface: the request takes it as a record of variables.
export type ReportVariables = {
  divisionCode: string | null
  status: ReportStatus | null
  overdue: boolean | null
  assignedToMe: boolean | null
  first: number
  after: string | null
}

/** One page's variables; an unticked box asks for everything, not for "not overdue". */
export function reportVariables(filters: ReportFilters, first: number, after: string | null): ReportVariables {
  return {
    divisionCode: filters.division || null,
    status: filters.status || null,
    overdue: filters.overdue || null,
    assignedToMe: filters.assignedToMe || null,
    first,
    after,
  }
}

const OPEN: readonly ReportStatus[] = ['RECEIVED', 'ACCEPTED', 'INVESTIGATING']
const IN_HAND: readonly ReportStatus[] = ['ACCEPTED', 'INVESTIGATING']

export function isOpen(status: ReportStatus): boolean {
  return OPEN.includes(status)
}

export type DeadlineKind = 'accept' | 'close' | 'feedback'

export interface Deadline {
  kind: DeadlineKind
  at: string
  /** Passed and not done. */
  late: boolean
}

/** The deadlines still to meet: acceptance while received, closing while in hand, feedback
 * to the reporter once closed until it is given. */
export function pendingDeadlines(report: ReportRow, nowMs: number): Deadline[] {
  const due = (kind: DeadlineKind, at: string | null): Deadline[] =>
    at ? [{ kind, at, late: Date.parse(at) < nowMs }] : []
  if (report.status === 'RECEIVED') return due('accept', report.acceptDueAt)
  if (IN_HAND.includes(report.status)) return due('close', report.closeDueAt)
  if (report.status === 'CLOSED' && !report.feedbackAt) return due('feedback', report.feedbackDueAt)
  return []
}

/** The role the person holds in the division handling the report (director first); null when
 * they only read it from above. */
export function handlingRole(memberships: readonly Membership[], report: Pick<ReportRow, 'handlingDivisionCode'>): GovRole | null {
  const roles = memberships.filter((m) => m.domain === `gov:${report.handlingDivisionCode}`).map((m) => m.role)
  if (roles.includes('director')) return 'director'
  if (roles.includes('inspector')) return 'inspector'
  if (roles.includes('analyst')) return 'analyst'
  return null
}

/** The actions offered to a role (in the handling division) in the report's status. */
export function reportActions(report: ReportDetail, role: GovRole | null): ReportAction[] {
  if (role !== 'director' && role !== 'inspector') return []
  const director = role === 'director'
  const status = report.status
  const allowed: Record<ReportAction, boolean> = {
    accept: status === 'RECEIVED',
    reject: status === 'RECEIVED',
    assign: director && isOpen(status),
    subject: IN_HAND.includes(status) && !report.subjectSite,
    investigate: IN_HAND.includes(status),
    close: IN_HAND.includes(status),
    extend: director && IN_HAND.includes(status) && !report.closeExtended,
    feedback: status === 'CLOSED' && !report.feedbackAt,
    summary: (IN_HAND.includes(status) || status === 'CLOSED') && !report.summaryPublishedAt,
    publish: director && !!report.publicSummary && !report.summaryPublishedAt && status !== 'MERGED',
    merge: isOpen(status) && report.duplicateCandidates.length > 0,
  }
  return REPORT_ACTIONS.filter((action) => allowed[action])
}

/** Whether the 查看联系方式 button is offered: a real-name report, to the handling division's
 * director or the inspector it is assigned to (the only ones the server answers). */
export function mayReadContact(report: ReportDetail, role: GovRole | null, email: string | null): boolean {
  if (!report.contactGiven) return false
  if (role === 'director') return true
  return role === 'inspector' && !!email && report.assignee?.email.toLowerCase() === email.toLowerCase()
}

export interface Category {
  code: string
  nameZh: string
  nameEn: string
}

/** A category's name in the page's language; the code itself for one not (yet) known. */
export function categoryName(categories: readonly Category[], code: string, locale: string): string {
  const found = categories.find((c) => c.code === code)
  if (!found) return code
  return locale.startsWith('zh') ? found.nameZh : found.nameEn
}

type Translate = (key: string) => string

export const REPORT_COLUMNS = [
  'receivedAt',
  'category',
  'division',
  'handlingDivision',
  'subject',
  'status',
  'acceptDueAt',
  'closeDueAt',
  'feedbackDueAt',
  'overdue',
  'assignee',
] as const

export function reportHeader(t: Translate): string[] {
  return REPORT_COLUMNS.map((column) => t(`govReports.column.${column}`))
}

/** One CSV row per report, in the queue's order; times as the server gives them (UTC). */
export function reportRows(
  reports: readonly ReportRow[],
  t: Translate,
  category: (code: string) => string,
  divisionName: (code: string) => string,
): CsvCell[][] {
  return reports.map((r) => [
    r.receivedAt,
    category(r.category),
    divisionName(r.divisionCode),
    divisionName(r.handlingDivisionCode),
    r.subject,
    t(`reportStatus.${r.status}`),
    r.acceptDueAt,
    r.closeDueAt,
    r.feedbackDueAt,
    r.overdue ? t('govReports.yes') : t('govReports.no'),
    r.assignee?.email ?? null,
  ])
}
