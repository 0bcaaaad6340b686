// The GraphQL of the work orders (工单) and of the rules' false-positive rates.
import type { Severity } from '../logic/sensor-state'
import type { AlarmStatus, Verdict } from '../api'

export type WorkOrderStatus = 'OPEN' | 'IN_PROGRESS' | 'DONE' | 'VERIFIED' | 'CANCELLED'
export const WORK_ORDER_STATUSES: readonly WorkOrderStatus[] = ['OPEN', 'IN_PROGRESS', 'DONE', 'VERIFIED', 'CANCELLED']

export interface WorkOrderSummary {
  id: string
  siteId: string
  title: string
  status: WorkOrderStatus
  dueAt: string | null
  overdue: boolean
  createdAt: string
  alarmId: string | null
  incidentId: string | null
  site: { id: string; name: string; tenantId: string }
}

const SUMMARY_FIELDS = 'id siteId title status dueAt overdue createdAt alarmId incidentId site { id name tenantId }'

export const WORK_ORDERS_QUERY = `query ConsoleWorkOrders($siteId: ID, $status: WorkOrderStatus, $first: Int!, $after: ID) {
  workOrders(siteId: $siteId, status: $status, first: $first, after: $after) { ${SUMMARY_FIELDS} }
}`

export interface WorkOrderChecklistItem {
  index: number
  text: string
  done: boolean
  doneBy: string | null
  doneAt: string | null
}

export interface WorkOrderEvent {
  id: string
  kind: string
  at: string
  actor: string | null
  note: string | null
  fromStatus: WorkOrderStatus | null
  toStatus: WorkOrderStatus | null
  itemIndex: number | null
  itemDone: boolean | null
  changedFields: string[]
}

export interface WorkOrderComment {
  id: string
  author: string | null
  at: string
  text: string
  photos: string[]
}

export interface WorkOrderAlarm {
  id: string
  severity: Severity
  status: AlarmStatus
  raisedAt: string
  closedAt: string | null
  verdict: Verdict | null
  cause: string | null
  sensor: { id: string; code: string; unit: string } | null
}

export interface WorkOrderDetail extends WorkOrderSummary {
  description: string | null
  assigneeUserId: string | null
  assigneeWorkerId: string | null
  createdBy: string | null
  updatedAt: string
  checklist: WorkOrderChecklistItem[]
  timeline: WorkOrderEvent[]
  comments: WorkOrderComment[]
  alarm: WorkOrderAlarm | null
  incident: { id: string; severity: Severity; alarmCount: number; openedAt: string; closedAt: string | null } | null
}

const DETAIL_FIELDS = `${SUMMARY_FIELDS} description assigneeUserId assigneeWorkerId createdBy updatedAt
  checklist { index text done doneBy doneAt }
  timeline { id kind at actor note fromStatus toStatus itemIndex itemDone changedFields }
  comments { id author at text photos }
  alarm { id severity status raisedAt closedAt verdict cause sensor { id code unit } }
  incident { id severity alarmCount openedAt closedAt }`

export const WORK_ORDER_QUERY = `query ConsoleWorkOrder($id: ID!) { workOrder(id: $id) { ${DETAIL_FIELDS} } }`

/** Where a new work order comes from: the site, and the alarm when created from one. */
export interface WorkOrderSource {
  siteId: string
  alarm?: { id: string; label: string }
}

export const CREATE_WORK_ORDER_MUTATION = `mutation CreateWorkOrder($title: String!, $siteId: ID, $alarmId: ID,
  $incidentId: ID, $description: String, $assigneeUserId: ID, $assigneeWorkerId: ID, $dueAt: DateTime,
  $checklist: [String!]) {
  createWorkOrder(title: $title, siteId: $siteId, alarmId: $alarmId, incidentId: $incidentId,
    description: $description, assigneeUserId: $assigneeUserId, assigneeWorkerId: $assigneeWorkerId,
    dueAt: $dueAt, checklist: $checklist) { id }
}`

export const SET_WORK_ORDER_STATUS_MUTATION = `mutation SetWorkOrderStatus($id: ID!, $status: WorkOrderStatus!, $note: String) {
  setWorkOrderStatus(id: $id, status: $status, note: $note) { ${DETAIL_FIELDS} }
}`

export const CHECK_WORK_ORDER_ITEM_MUTATION = `mutation CheckWorkOrderItem($id: ID!, $index: Int!, $done: Boolean!) {
  checkWorkOrderItem(id: $id, index: $index, done: $done) { ${DETAIL_FIELDS} }
}`

export const COMMENT_WORK_ORDER_MUTATION = `mutation CommentWorkOrder($id: ID!, $text: String!, $photos: [String!]) {
  commentWorkOrder(id: $id, text: $text, photos: $photos) { ${DETAIL_FIELDS} }
}`

/** Send only the variables that change: one left out keeps its value, one sent as null
 * clears it (never the title). */
export const UPDATE_WORK_ORDER_MUTATION = `mutation UpdateWorkOrder($id: ID!, $title: String, $description: String,
  $assigneeUserId: ID, $assigneeWorkerId: ID, $dueAt: DateTime) {
  updateWorkOrder(id: $id, title: $title, description: $description, assigneeUserId: $assigneeUserId,
    assigneeWorkerId: $assigneeWorkerId, dueAt: $dueAt) { ${DETAIL_FIELDS} }
}`

export interface IncidentOption {
  id: string
  severity: Severity
  alarmCount: number
  openedAt: string
}

export const OPEN_INCIDENTS_QUERY = `query ConsoleOpenIncidents($siteId: ID!) {
  alarmIncidents(siteId: $siteId, openOnly: true, first: 100) { id severity alarmCount openedAt }
}`

export interface RuleReviewStat {
  ruleId: string
  closed: number
  falsePositives: number
  rate: number
}

export const RULE_REVIEW_STATS_QUERY = `query ConsoleRuleReviewStats($siteId: ID!) {
  ruleReviewStats(siteId: $siteId) { ruleId closed falsePositives rate }
}`
