// Permits and silences: how long they last (chosen as a duration, so a phone needs no date
// picker), and which are in force now.
export const DURATION_HOURS = [1, 2, 4, 8, 12, 24, 72] as const

export function expiryAfter(now: number, hours: number): string {
  return new Date(now + hours * 3_600_000).toISOString()
}

/** In force at `now`: started, not expired, not cancelled or closed. */
export function inForce(item: { startsAt?: string; expiresAt: string; cancelledAt?: string | null; closedAt?: string | null }, now: number): boolean {
  if (item.cancelledAt || item.closedAt) return false
  if (item.startsAt && Date.parse(item.startsAt) > now) return false
  return Date.parse(item.expiresAt) > now
}

export function zoneNames(zones: readonly { id: string; name: string }[]): Map<string, string> {
  return new Map(zones.map((z) => [z.id, z.name]))
}
