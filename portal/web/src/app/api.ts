// The GraphQL the console asks, and the shapes of the answers. One request per page refresh:
// a site with every sensor and its latest reading, its status, its active alarms — never a
// request per tile.
import type { Severity } from './logic/sensor-state'

export type AlarmStatus = 'ACTIVE_UNACKNOWLEDGED' | 'ACKNOWLEDGED' | 'DISPATCHED' | 'CLEARED' | 'CLOSED'
export type AlarmStatusFilter = 'ACTIVE' | 'OPEN' | 'CLOSED' | 'ALL'
export type Verdict = 'TRUE_POSITIVE' | 'FALSE_POSITIVE'

export const STATUS_FILTERS: readonly AlarmStatusFilter[] = ['ACTIVE', 'OPEN', 'CLOSED', 'ALL']
export const VERDICTS: readonly Verdict[] = ['TRUE_POSITIVE', 'FALSE_POSITIVE']

export interface SiteSummary {
  id: string
  name: string
  tenantId: string
}

export const SITES_QUERY = 'query ConsoleSites { sites { id name tenantId } }'

export interface OverviewSensor {
  id: string
  code: string
  kind: string
  unit: string
  zone: string | null
  latest: { ts: string; value: number } | null
}

export interface OverviewAlarm {
  id: string
  severity: Severity
  status: AlarmStatus
  acknowledged: boolean
  sensor: { id: string } | null
}

export interface OverviewData {
  site: { id: string; name: string; sensors: OverviewSensor[]; zones?: { id: string; name: string }[] }
  siteStatus: { asOf: string; offlineAfterSeconds: number } | null
  alarms: OverviewAlarm[]
  /** The permits and silences in force, shown above the tiles. */
  workPermits?: RestrictionPermit[]
  silences?: RestrictionSilence[]
}

export interface RestrictionPermit {
  id: string
  zoneId: string
  kind: string
  expiresAt: string
  closedAt: string | null
}

export interface RestrictionSilence {
  id: string
  zoneId: string | null
  sensorId: string | null
  startsAt: string
  expiresAt: string
  cancelledAt: string | null
}

// Alarms active on one site: more than a page's worth would be a plant on fire; the overview
// still colours every sensor of the first thousand.
export const OVERVIEW_ALARM_LIMIT = 1000

export const OVERVIEW_QUERY = `query ConsoleOverview($siteId: ID!, $alarmLimit: Int!) {
  site(id: $siteId) {
    id name
    sensors { id code kind unit zone latest { ts value } }
    zones { id name }
  }
  siteStatus(siteId: $siteId) { asOf offlineAfterSeconds }
  alarms(status: ACTIVE, siteId: $siteId, first: $alarmLimit) {
    id severity status acknowledged sensor { id }
  }
  workPermits(siteId: $siteId, openOnly: true, first: 100) { id zoneId kind expiresAt closedAt }
  silences(siteId: $siteId) { id zoneId sensorId startsAt expiresAt cancelledAt }
}`

export interface ConsoleAlarm {
  id: string
  severity: Severity
  status: AlarmStatus
  acknowledged: boolean
  level: string | null
  value: number | null
  raisedAt: string
  acknowledgedAt: string | null
  clearedAt: string | null
  closedAt: string | null
  verdict: Verdict | null
  cause: string | null
  silenced: boolean
  sensor: { id: string; code: string; kind: string; unit: string; zone: string | null } | null
  site: { id: string; name: string; tenantId: string }
}

const ALARM_FIELDS = `id severity status acknowledged level value raisedAt acknowledgedAt clearedAt
  closedAt verdict cause silenced
  sensor { id code kind unit zone }
  site { id name tenantId }`

export const ALARMS_QUERY = `query ConsoleAlarms($status: AlarmStatusFilter!, $first: Int!, $after: ID,
  $severity: Severity, $siteId: ID) {
  alarms(status: $status, first: $first, after: $after, severity: $severity, siteId: $siteId) {
    ${ALARM_FIELDS}
  }
}`

export const ACKNOWLEDGE_MUTATION = `mutation AcknowledgeAlarm($id: ID!, $note: String) {
  acknowledgeAlarm(id: $id, note: $note) { ${ALARM_FIELDS} }
}`

export const CLOSE_MUTATION = `mutation CloseAlarm($id: ID!, $verdict: Verdict!, $cause: String!) {
  closeAlarm(id: $id, verdict: $verdict, cause: $cause) { ${ALARM_FIELDS} }
}`

export interface AlarmEvent {
  kind: 'RAISED' | 'SEVERITY_CHANGED' | 'ACKNOWLEDGED' | 'DISPATCHED' | 'CLEARED' | 'CLOSED' | 'ESCALATED'
  alarm: { id: string; severity: Severity; status: AlarmStatus; siteId: string; sensorId: string | null }
}

export const ALARM_EVENTS_SUBSCRIPTION = `subscription ConsoleAlarmEvents {
  alarmEvents { kind alarm { id severity status siteId sensorId } }
}`

export interface HistorySensor {
  id: string
  code: string
  kind: string
  unit: string
  zone: string | null
}

export interface TelemetryBucket {
  ts: string
  min: number
  max: number
  avg: number
  count: number
}

// There is no `sensor(id)` field: the sensor is found among the sites' sensors (a list the
// reader may see anyway), and its setpoints among its alarm rules.
export const HISTORY_SENSORS_QUERY = `query ConsoleHistorySensors {
  sites { id name sensors { id code kind unit zone } }
}`

export interface HistorySite {
  id: string
  name: string
  sensors: HistorySensor[]
}

export const SETPOINTS_QUERY = `query ConsoleSetpoints($sensorId: ID!) {
  alarmRules(sensorId: $sensorId) { kind enabled levels { name severity setpoint } }
}`

export interface SetpointRules {
  alarmRules: { kind: string; enabled: boolean; levels: { name: string; severity: Severity; setpoint: number }[] }[]
}

export const TELEMETRY_QUERY = `query ConsoleTelemetry($sensorId: ID!, $from: DateTime!, $to: DateTime!,
  $bucketSeconds: Int) {
  telemetry(sensorId: $sensorId, from: $from, to: $to, bucketSeconds: $bucketSeconds) {
    ts min max avg count
  }
}`
