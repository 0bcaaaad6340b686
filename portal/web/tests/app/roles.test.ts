// What each enterprise role sees in the menu and may do with an alarm, as the server's role
// templates allow.
import { describe, expect, it } from 'vitest'

import { alarmActions } from '@/app/logic/alarm-actions'
import { enterpriseRoles, may, menuFor, roleInTenant } from '@/app/logic/roles'

const TENANT = '6c1f0a4e-0000-4000-8000-000000000001'
const OTHER = '6c1f0a4e-0000-4000-8000-000000000002'
const as = (role: string) => [{ domain: `tenant:${TENANT}`, role }]

describe('menuFor', () => {
  const reading = ['overview', 'alarms', 'history', 'workOrders', 'handovers', 'devices', 'hazards', 'notices']

  it.each(['owner', 'safety_manager'] as const)('gives %s every page, people and audit included', (role) => {
    expect(menuFor([role]).map((item) => item.key)).toEqual([...reading, 'people', 'permits', 'audit'])
  })

  it('gives an operator the workers (people) but a viewer not', () => {
    expect(menuFor(['operator']).map((item) => item.key)).toEqual([...reading, 'people', 'permits'])
    expect(menuFor(['viewer']).map((item) => item.key)).toEqual([...reading, 'permits'])
  })

  it('gives someone without an enterprise role nothing', () => {
    expect(menuFor(enterpriseRoles([{ domain: 'gov:320100', role: 'inspector' }]))).toEqual([])
    expect(menuFor(enterpriseRoles([{ domain: 'platform', role: 'platform_admin' }]))).toEqual([])
  })

  it('reads roles only from tenant domains', () => {
    expect(enterpriseRoles([...as('viewer'), { domain: 'gov:320100', role: 'director' }])).toEqual(['viewer'])
  })
})

describe('alarm handling by role', () => {
  const active = { status: 'ACTIVE_UNACKNOWLEDGED', acknowledged: false, site: { tenantId: TENANT } } as const
  const cleared = { status: 'CLEARED', acknowledged: true, site: { tenantId: TENANT } } as const

  it('lets owner, safety manager and operator acknowledge and close', () => {
    for (const role of ['owner', 'safety_manager', 'operator']) {
      expect(alarmActions(active, as(role)), role).toEqual({ acknowledge: true, close: false })
      expect(alarmActions(cleared, as(role)), role).toEqual({ acknowledge: false, close: true })
    }
  })

  it('lets a viewer do neither', () => {
    expect(may('viewer', 'alarm:update')).toBe(false)
    expect(alarmActions(active, as('viewer'))).toEqual({ acknowledge: false, close: false })
    expect(alarmActions(cleared, as('viewer'))).toEqual({ acknowledge: false, close: false })
  })

  it("judges by the role in the alarm's own tenant", () => {
    const elsewhere = { ...active, site: { tenantId: OTHER } }
    expect(roleInTenant(as('operator'), OTHER)).toBeNull()
    expect(alarmActions(elsewhere, as('operator'))).toEqual({ acknowledge: false, close: false })
  })

  it('offers acknowledging a cleared alarm nobody acknowledged, and nothing on a closed one', () => {
    expect(alarmActions({ ...cleared, acknowledged: false }, as('operator'))).toEqual({ acknowledge: true, close: true })
    expect(alarmActions({ ...cleared, status: 'CLOSED' }, as('owner'))).toEqual({ acknowledge: false, close: false })
  })
})

describe('the register of major hazard sources by role', () => {
  it('lets owner and safety manager register units and the other roles only read them', () => {
    for (const role of ['owner', 'safety_manager'] as const) {
      expect(may(role, 'hazard_unit:create'), role).toBe(true)
      expect(may(role, 'hazard_unit:delete'), role).toBe(true)
    }
    for (const role of ['operator', 'viewer'] as const) {
      expect(may(role, 'hazard_unit:read'), role).toBe(true)
      expect(may(role, 'hazard_unit:create'), role).toBe(false)
      expect(may(role, 'hazard_unit:update'), role).toBe(false)
    }
  })
})
