// The GraphQL of shift handovers (交接班).
import type { Severity } from '../logic/sensor-state'
import type { WorkOrderStatus } from './work-orders'

export interface Handover {
  id: string
  siteId: string
  note: string
  handedOverBy: string
  handedOverAt: string
  acceptedBy: string | null
  acceptedAt: string | null
  acceptNote: string | null
  accepted: boolean
  openAlarmCount: number
  openPermitCount: number
  openWorkOrderCount: number
  openAlarms: { id: string; severity: Severity; status: string; raisedAt: string | null; sensorCode: string | null }[]
  openPermits: { id: string; kind: string; zoneName: string | null; expiresAt: string | null }[]
  openWorkOrders: { id: string; title: string; status: WorkOrderStatus; dueAt: string | null }[]
}

const FIELDS = `id siteId note handedOverBy handedOverAt acceptedBy acceptedAt acceptNote accepted
  openAlarmCount openPermitCount openWorkOrderCount
  openAlarms { id severity status raisedAt sensorCode }
  openPermits { id kind zoneName expiresAt }
  openWorkOrders { id title status dueAt }`

// `me { id }` to know which handovers are one's own (the incoming shift accepts, not the
// outgoing one).
export const HANDOVERS_QUERY = `query ConsoleHandovers($siteId: ID!, $first: Int!, $after: ID) {
  me { id }
  handovers(siteId: $siteId, first: $first, after: $after) { ${FIELDS} }
}`

export const CREATE_HANDOVER_MUTATION = `mutation CreateHandover($siteId: ID!, $note: String!) {
  createHandover(siteId: $siteId, note: $note) { ${FIELDS} }
}`

export const ACCEPT_HANDOVER_MUTATION = `mutation AcceptHandover($id: ID!, $note: String) {
  acceptHandover(id: $id, note: $note) { ${FIELDS} }
}`
