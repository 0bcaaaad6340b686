// Supervision (督办) of an alarm as both portals ask for it: a regulator asks the enterprise for
// a handling report by a deadline, the enterprise reports, the regulator accepts or returns it.
import type { NoticeActor } from '@/shared/notices/api'

export type SupervisionStatus = 'REQUESTED' | 'REPORTED' | 'ACCEPTED' | 'RETURNED'
export const SUPERVISION_STATUSES: readonly SupervisionStatus[] = ['REQUESTED', 'RETURNED', 'REPORTED', 'ACCEPTED']

export interface Supervision {
  id: string
  status: SupervisionStatus
  overdue: boolean
  deadline: string
  request: string
  requestedAt: string
  requestedBy: NoticeActor
  report: string | null
  reportedAt: string | null
  reportedBy: NoticeActor | null
  photos: string[]
  returnComment: string | null
  alarm: { id: string; severity: string; raisedAt: string; sensor: { code: string } | null }
  site: { id: string; name: string; tenantId: string; tenant: { name: string } }
}

const ACTOR = 'kind name email'
const SUPERVISION = `id status overdue deadline request requestedAt requestedBy { ${ACTOR} }
  report reportedAt reportedBy { ${ACTOR} } photos returnComment
  alarm { id severity raisedAt sensor { code } } site { id name tenantId tenant { name } }`

export const SUPERVISIONS_QUERY = `query Supervisions($status: SupervisionStatus, $alarmId: ID, $siteId: ID) {
  alarmSupervisions(status: $status, alarmId: $alarmId, siteId: $siteId) { ${SUPERVISION} }
}`

export const REQUEST_SUPERVISION_MUTATION = `mutation RequestSupervision($alarmId: ID!, $deadline: DateTime!, $request: String!) {
  requestAlarmSupervision(alarmId: $alarmId, deadline: $deadline, request: $request) { ${SUPERVISION} }
}`

export const REPORT_SUPERVISION_MUTATION = `mutation ReportSupervision($id: ID!, $report: String!, $photos: [String!]) {
  reportAlarmSupervision(id: $id, report: $report, photos: $photos) { ${SUPERVISION} }
}`

export const REVIEW_SUPERVISION_MUTATION = `mutation ReviewSupervision($id: ID!, $accepted: Boolean!, $comment: String) {
  reviewAlarmSupervision(id: $id, accepted: $accepted, comment: $comment) { ${SUPERVISION} }
}`

/** Whether the enterprise is the one to act (report, or report again). */
export function awaitsReport(status: SupervisionStatus): boolean {
  return status === 'REQUESTED' || status === 'RETURNED'
}
