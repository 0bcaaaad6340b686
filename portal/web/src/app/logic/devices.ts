// The devices page: each device the site's status lists (online, last seen) with its sensors,
// and the table of sensors a new device is created with, checked before it is sent.
import type { DevicesData, DeviceSensor, RuleLevel, SensorInput } from '../queries/devices'
import { gasesOf, SENSOR_KINDS, unitOf } from './sensor-kinds'

export interface DeviceRow {
  id: string
  name: string
  online: boolean
  lastSeen: string | null
  sensors: DeviceSensor[]
}

export function deviceRows(data: DevicesData): DeviceRow[] {
  const byDevice = new Map<string, DeviceSensor[]>()
  for (const sensor of data.site.sensors) {
    const list = byDevice.get(sensor.deviceId) ?? []
    list.push(sensor)
    byDevice.set(sensor.deviceId, list)
  }
  return (data.siteStatus?.devices ?? [])
    .map((d) => ({ ...d, sensors: (byDevice.get(d.id) ?? []).sort((a, b) => a.code.localeCompare(b.code)) }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

export interface SensorDraft {
  code: string
  kind: string
  zone: string
  gas: string
}

export function emptyDraft(): SensorDraft {
  return { code: '', kind: 'combustible_gas', zone: '', gas: '' }
}

/** The message keys of what is wrong with the form; empty when it may be sent. */
export function draftProblems(name: string, drafts: readonly SensorDraft[]): string[] {
  const problems = new Set<string>()
  if (!name.trim()) problems.add('devices.needName')
  if (!drafts.length) problems.add('devices.needSensor')
  const codes = drafts.map((d) => d.code.trim())
  if (codes.some((c) => !c)) problems.add('devices.needCode')
  if (new Set(codes).size !== codes.length) problems.add('devices.duplicateCode')
  if (drafts.some((d) => !(d.kind in SENSOR_KINDS))) problems.add('devices.needKind')
  if (drafts.some((d) => gasesOf(d.kind).length > 0 && !d.gas)) problems.add('devices.needGas')
  return [...problems]
}

export function sensorInputs(drafts: readonly SensorDraft[]): SensorInput[] {
  return drafts.map((d) => ({
    code: d.code.trim(),
    kind: d.kind,
    unit: unitOf(d.kind),
    zone: d.zone || null,
    gas: gasesOf(d.kind).length ? d.gas : null,
  }))
}

/** Levels as edited (setpoints typed as text) back to numbers; null when one is not a number. */
export function parseLevels(levels: readonly (Omit<RuleLevel, 'setpoint' | 'clearAt'> & { setpoint: string; clearAt: string })[]): RuleLevel[] | null {
  const parsed: RuleLevel[] = []
  for (const level of levels) {
    const setpoint = Number(level.setpoint)
    const clearAt = Number(level.clearAt)
    if (level.setpoint.trim() === '' || level.clearAt.trim() === '' || !Number.isFinite(setpoint) || !Number.isFinite(clearAt)) {
      return null
    }
    parsed.push({ name: level.name, severity: level.severity, direction: level.direction, setpoint, clearAt })
  }
  return parsed
}
