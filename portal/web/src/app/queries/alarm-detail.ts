// One alarm with everything known about it (its timeline, the rule and its setpoints, the
// incident, the device, zone, wearer and camera snapshot of an event alarm), whom it can be dispatched to, and
// the handling the detail page adds to the console's (dispatch, manual clear).
import type { ConsoleAlarm } from '../api'
import type { Severity } from '../logic/sensor-state'

export type TransitionKind = 'RAISED' | 'SEVERITY_CHANGED' | 'ACKNOWLEDGED' | 'DISPATCHED' | 'CLEARED' | 'CLOSED' | 'ESCALATED'

export interface AlarmTransition {
  kind: TransitionKind
  severity: Severity | null
  at: string
  note: string | null
  actor: { kind: 'USER' | 'SYSTEM'; name: string | null; email: string | null }
}

export interface AlarmDetail extends ConsoleAlarm {
  dispatchedAt: string | null
  assignee: string | null
  flapping: boolean
  escalationStep: number
  peakValue: number | null
  transitions: AlarmTransition[]
  rule: {
    id: string
    kind: string
    enabled: boolean
    standard: string | null
    levels: { name: string; severity: Severity; direction: string; setpoint: number; clearAt: number }[]
  } | null
  incident: { id: string; severity: Severity; alarmCount: number; openedAt: string; lastAlarmAt: string; closedAt: string | null } | null
  device: { id: string; name: string } | null
  zone: { id: string; name: string } | null
  wearer: { id: string; name: string; employeeNumber: string } | null
  /** The camera frame of the event that raised it (event alarms), faces pixelated. */
  snapshotUrl: string | null
}

const DETAIL_FIELDS = `id severity status acknowledged level value raisedAt acknowledgedAt clearedAt
  closedAt verdict cause silenced dispatchedAt assignee flapping escalationStep peakValue
  sensor { id code kind unit zone }
  site { id name tenantId }
  transitions { kind severity at note actor { kind name email } }
  rule { id kind enabled standard levels { name severity direction setpoint clearAt } }
  incident { id severity alarmCount openedAt lastAlarmAt closedAt }
  device { id name }
  zone { id name }
  wearer { id name employeeNumber }
  snapshotUrl`

export const ALARM_DETAIL_QUERY = `query ConsoleAlarmDetail($id: ID!) { alarm(id: $id) { ${DETAIL_FIELDS} } }`

export const DETAIL_ACKNOWLEDGE_MUTATION = `mutation DetailAcknowledgeAlarm($id: ID!, $note: String) {
  acknowledgeAlarm(id: $id, note: $note) { ${DETAIL_FIELDS} }
}`

export const DETAIL_DISPATCH_MUTATION = `mutation DispatchAlarm($id: ID!, $note: String, $assigneeUserId: ID,
  $assigneeWorkerId: ID) {
  dispatchAlarm(id: $id, note: $note, assigneeUserId: $assigneeUserId, assigneeWorkerId: $assigneeWorkerId) {
    ${DETAIL_FIELDS}
  }
}`

export const DETAIL_CLEAR_MUTATION = `mutation ClearAlarm($id: ID!, $reason: String!) {
  clearAlarm(id: $id, reason: $reason) { ${DETAIL_FIELDS} }
}`

export const DETAIL_CLOSE_MUTATION = `mutation DetailCloseAlarm($id: ID!, $verdict: Verdict!, $cause: String!) {
  closeAlarm(id: $id, verdict: $verdict, cause: $cause) { ${DETAIL_FIELDS} }
}`

export interface Assignees {
  members: { id: string; name: string | null; email: string; role: string }[]
  workers: { id: string; name: string; employeeNumber: string; siteId: string | null }[]
}

export const ASSIGNEES_QUERY = `query AlarmAssignees($siteId: ID!) {
  assignees(siteId: $siteId) {
    members { id name email role }
    workers { id name employeeNumber siteId }
  }
}`

/** A pick of the dispatch dialog: `user:<id>` or `worker:<id>`. */
export type AssigneePick = `user:${string}` | `worker:${string}`

export function dispatchVariables(pick: AssigneePick): { assigneeUserId: string | null; assigneeWorkerId: string | null } {
  const [kind, id] = pick.split(':') as ['user' | 'worker', string]
  return { assigneeUserId: kind === 'user' ? id : null, assigneeWorkerId: kind === 'worker' ? id : null }
}
