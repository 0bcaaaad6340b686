// The GraphQL of devices, sensors and their alarm rules (设备管理).
import type { Severity } from '../logic/sensor-state'

export interface DeviceSensor {
  id: string
  code: string
  kind: string
  unit: string
  zone: string | null
  deviceId: string
  /** The sensor's latest reading: when it last reported. */
  latest?: { ts: string } | null
}

export interface DevicesData {
  site: { id: string; name: string; tenantId: string; zones: { id: string; name: string }[]; sensors: DeviceSensor[] }
  siteStatus: {
    asOf: string
    devicesTotal: number
    devicesOnline: number
    devices: { id: string; name: string; online: boolean; lastSeen: string | null }[]
  } | null
}

export const DEVICES_QUERY = `query ConsoleDevices($siteId: ID!) {
  site(id: $siteId) { id name tenantId zones { id name } sensors { id code kind unit zone deviceId latest { ts } } }
  siteStatus(siteId: $siteId) { asOf devicesTotal devicesOnline devices { id name online lastSeen } }
}`

export interface SensorInput {
  code: string
  kind: string
  unit: string | null
  zone: string | null
  gas: string | null
}

export interface NewDevice {
  device: { id: string; name: string }
  token: string
  sensors: { id: string; code: string }[]
}

export const CREATE_DEVICE_MUTATION = `mutation CreateDevice($siteId: ID!, $name: String!, $sensors: [SensorInput!]!) {
  createDevice(siteId: $siteId, name: $name, sensors: $sensors) { device { id name } token sensors { id code } }
}`

export const REVOKE_DEVICE_MUTATION = `mutation RevokeDevice($deviceId: ID!) {
  revokeDevice(deviceId: $deviceId) { id revoked }
}`

export interface RuleLevel {
  name: string
  severity: Severity
  direction: string
  setpoint: number
  clearAt: number
}

export interface AlarmRule {
  id: string
  kind: string
  source: string
  version: number
  enabled: boolean
  standard: string | null
  onDelaySeconds: number
  levels: RuleLevel[]
}

const RULE_FIELDS = 'id kind source version enabled standard onDelaySeconds levels { name severity direction setpoint clearAt }'

export const SENSOR_RULES_QUERY = `query ConsoleSensorRules($sensorId: ID!) {
  alarmRules(sensorId: $sensorId) { ${RULE_FIELDS} }
}`

export const OVERRIDE_LEVELS_MUTATION = `mutation OverrideAlarmLevels($ruleId: ID!, $levels: [LevelInput!]!, $reason: String!) {
  overrideAlarmLevels(ruleId: $ruleId, levels: $levels, reason: $reason) { ${RULE_FIELDS} }
}`

export const RESET_RULE_MUTATION = `mutation ResetAlarmRule($ruleId: ID!, $reason: String!) {
  resetAlarmRule(ruleId: $ruleId, reason: $reason) { ${RULE_FIELDS} }
}`

export const SET_RULE_ENABLED_MUTATION = `mutation SetAlarmRuleEnabled($ruleId: ID!, $enabled: Boolean!, $reason: String!) {
  setAlarmRuleEnabled(ruleId: $ruleId, enabled: $enabled, reason: $reason) { ${RULE_FIELDS} }
}`
