// The GraphQL of work permits and silences (作业票 / 屏蔽).

export type PermitKind = 'HOT_WORK' | 'CONFINED_SPACE' | 'WORK_AT_HEIGHT' | 'LIFTING' | 'TEMPORARY_POWER'
export const PERMIT_KINDS: readonly PermitKind[] = ['HOT_WORK', 'CONFINED_SPACE', 'WORK_AT_HEIGHT', 'LIFTING', 'TEMPORARY_POWER']

export interface WorkPermit {
  id: string
  siteId: string
  zoneId: string
  kind: PermitKind
  openedAt: string
  expiresAt: string
  closedAt: string | null
  note: string | null
}

export interface Silence {
  id: string
  siteId: string
  zoneId: string | null
  sensorId: string | null
  reason: string
  startsAt: string
  expiresAt: string
  cancelledAt: string | null
}

const PERMIT_FIELDS = 'id siteId zoneId kind openedAt expiresAt closedAt note'
const SILENCE_FIELDS = 'id siteId zoneId sensorId reason startsAt expiresAt cancelledAt'

export interface PermitsData {
  site: { id: string; zones: { id: string; name: string }[]; sensors: { id: string; code: string }[] }
  workPermits: WorkPermit[]
  silences: Silence[]
}

export const PERMITS_QUERY = `query ConsolePermits($siteId: ID!) {
  site(id: $siteId) { id zones { id name } sensors { id code } }
  workPermits(siteId: $siteId, openOnly: true, first: 100) { ${PERMIT_FIELDS} }
  silences(siteId: $siteId) { ${SILENCE_FIELDS} }
}`

export const OPEN_PERMIT_MUTATION = `mutation OpenWorkPermit($zoneId: ID!, $kind: PermitKind!, $expiresAt: DateTime!, $note: String) {
  openWorkPermit(zoneId: $zoneId, kind: $kind, expiresAt: $expiresAt, note: $note) { ${PERMIT_FIELDS} }
}`

export const CLOSE_PERMIT_MUTATION = `mutation CloseWorkPermit($id: ID!) { closeWorkPermit(id: $id) { ${PERMIT_FIELDS} } }`

export const CREATE_SILENCE_MUTATION = `mutation CreateSilence($siteId: ID!, $reason: String!, $expiresAt: DateTime!,
  $zoneId: ID, $sensorId: ID) {
  createSilence(siteId: $siteId, reason: $reason, expiresAt: $expiresAt, zoneId: $zoneId, sensorId: $sensorId) {
    ${SILENCE_FIELDS}
  }
}`

export const CANCEL_SILENCE_MUTATION = `mutation CancelSilence($id: ID!) { cancelSilence(id: $id) { ${SILENCE_FIELDS} } }`
