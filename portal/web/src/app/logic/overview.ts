// The overview of one site from one answer: sensors grouped by zone with the state of each,
// active alarms counted by severity, and the online rate.
import type { OverviewData, OverviewSensor } from '../api'
import {
  DEFAULT_OFFLINE_AFTER_SECONDS,
  onlineRate,
  SEVERITIES,
  type SensorState,
  type Severity,
  sensorState,
} from './sensor-state'

export interface SensorTileData extends OverviewSensor {
  state: SensorState
}

export interface ZoneGroup {
  /** null: sensors placed in no zone. */
  zone: string | null
  sensors: SensorTileData[]
}

export interface SiteOverview {
  zones: ZoneGroup[]
  alarmCounts: Record<Severity, number>
  onlineRate: number | null
  sensorCount: number
  offlineCount: number
}

function worstRank(sensors: readonly SensorTileData[]): number {
  let worst: number = SEVERITIES.length
  for (const sensor of sensors) {
    const rank = (SEVERITIES as readonly string[]).indexOf(sensor.state)
    if (rank !== -1 && rank < worst) worst = rank
  }
  return worst
}

export function buildOverview(data: OverviewData, browserNowMs: number): SiteOverview {
  const now = data.siteStatus ? Date.parse(data.siteStatus.asOf) : browserNowMs
  const threshold = data.siteStatus?.offlineAfterSeconds ?? DEFAULT_OFFLINE_AFTER_SECONDS
  const bySensor = new Map<string, Severity[]>()
  const alarmCounts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>
  for (const alarm of data.alarms) {
    alarmCounts[alarm.severity] += 1
    if (!alarm.sensor) continue
    const list = bySensor.get(alarm.sensor.id) ?? []
    list.push(alarm.severity)
    bySensor.set(alarm.sensor.id, list)
  }
  const groups = new Map<string | null, SensorTileData[]>()
  let offlineCount = 0
  for (const sensor of data.site.sensors) {
    const state = sensorState({
      latestTs: sensor.latest?.ts ?? null,
      alarmSeverities: bySensor.get(sensor.id) ?? [],
      nowMs: now,
      offlineAfterSeconds: threshold,
    })
    if (state === 'offline') offlineCount += 1
    const zone = sensor.zone ?? null
    const list = groups.get(zone) ?? []
    list.push({ ...sensor, state })
    groups.set(zone, list)
  }
  const zones = [...groups]
    .map(([zone, sensors]) => ({ zone, sensors: sensors.sort((a, b) => a.code.localeCompare(b.code)) }))
    // Zones in alarm first (the most severe first), so a control room sees them without
    // scrolling; then by name, the unplaced sensors last.
    .sort((a, b) => {
      const byAlarm = worstRank(a.sensors) - worstRank(b.sensors)
      if (byAlarm) return byAlarm
      if (a.zone === null || b.zone === null) return a.zone === null ? 1 : -1
      return a.zone.localeCompare(b.zone)
    })
  return {
    zones,
    alarmCounts,
    onlineRate: onlineRate(
      data.site.sensors.map((s) => s.latest?.ts ?? null),
      now,
      threshold,
    ),
    sensorCount: data.site.sensors.length,
    offlineCount,
  }
}
