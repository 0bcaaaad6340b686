// The colour of a sensor's tile. An active alarm wins (its highest severity), because that is
// what someone must act on; without one, a sensor whose last reading is older than the
// server's offline threshold (or that never reported) is offline; else it is normal. The
// rule mirrors the server's `is_online` (backend/telemetry/status.py), and is measured from
// the server's clock (`asOf`) so a browser whose clock is wrong does not paint everything grey.

export const SEVERITIES = ['RED', 'ORANGE', 'YELLOW', 'BLUE'] as const
export type Severity = (typeof SEVERITIES)[number]

export type SensorState = Severity | 'normal' | 'offline'

/** The server's default (`ANJIAN_OFFLINE_AFTER_SECONDS`), used until it says its own. */
export const DEFAULT_OFFLINE_AFTER_SECONDS = 300

/** The most severe of these, or null for none. */
export function highestSeverity(severities: Iterable<Severity>): Severity | null {
  let best: number | null = null
  for (const severity of severities) {
    const rank = SEVERITIES.indexOf(severity)
    if (best === null || rank < best) best = rank
  }
  return best === null ? null : SEVERITIES[best]!
}

/** No reading for longer than the threshold (or none at all). */
export function isStale(latestTs: string | null, nowMs: number, offlineAfterSeconds: number): boolean {
  if (latestTs === null) return true
  const at = Date.parse(latestTs)
  if (Number.isNaN(at)) return true
  return nowMs - at > offlineAfterSeconds * 1000
}

export function sensorState(input: {
  latestTs: string | null
  alarmSeverities: Iterable<Severity>
  nowMs: number
  offlineAfterSeconds: number
}): SensorState {
  const alarm = highestSeverity(input.alarmSeverities)
  if (alarm) return alarm
  return isStale(input.latestTs, input.nowMs, input.offlineAfterSeconds) ? 'offline' : 'normal'
}

/** Online sensors / all sensors (在线率), as the server counts it; null without sensors. */
export function onlineRate(latest: readonly (string | null)[], nowMs: number, offlineAfterSeconds: number): number | null {
  if (!latest.length) return null
  const online = latest.filter((ts) => !isStale(ts, nowMs, offlineAfterSeconds)).length
  return online / latest.length
}
