// Which handling an alarm offers to whom: acknowledging while it is unacknowledged and not
// closed, closing (with verdict and cause) once it is cleared; both only for a role that may
// handle alarms in the alarm's tenant. The server checks the same and refuses otherwise.
import type { Membership } from '@/shared/session/portal'

import type { AlarmStatus } from '../api'
import { may, roleInTenant } from './roles'

export interface HandledAlarm {
  status: AlarmStatus
  acknowledged: boolean
  site: { tenantId: string }
}

export interface AlarmActions {
  acknowledge: boolean
  close: boolean
}

export function alarmActions(alarm: HandledAlarm, memberships: readonly Membership[]): AlarmActions {
  const handles = may(roleInTenant(memberships, alarm.site.tenantId), 'alarm:update')
  return {
    acknowledge: handles && !alarm.acknowledged && alarm.status !== 'CLOSED',
    close: handles && alarm.status === 'CLEARED',
  }
}

export interface DetailActions extends AlarmActions {
  /** Send someone (a member or worker): while the alarm is not cleared. */
  dispatch: boolean
  /** End it by hand, with a reason (a sensor that cannot clear it): while not cleared. */
  clear: boolean
}

export function detailActions(
  alarm: HandledAlarm & { clearedAt: string | null },
  memberships: readonly Membership[],
): DetailActions {
  const handles = may(roleInTenant(memberships, alarm.site.tenantId), 'alarm:update')
  const active = alarm.clearedAt === null && alarm.status !== 'CLEARED' && alarm.status !== 'CLOSED'
  return { ...alarmActions(alarm, memberships), dispatch: handles && active, clear: handles && active }
}

const HOUR_MS = 3_600_000

/** The chart's window around an alarm: an hour before the raise to an hour after the clear,
 * never past now. */
export function alarmWindow(raisedAt: string, clearedAt: string | null, now: number): { from: string; to: string } {
  const from = Date.parse(raisedAt) - HOUR_MS
  const to = clearedAt === null ? now : Math.min(Date.parse(clearedAt) + HOUR_MS, now)
  return { from: new Date(from).toISOString(), to: new Date(Math.max(to, from + 60_000)).toISOString() }
}
