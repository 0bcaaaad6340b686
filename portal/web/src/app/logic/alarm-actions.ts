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
