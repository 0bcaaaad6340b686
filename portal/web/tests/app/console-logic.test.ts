// The rules the management pages follow, as the server's templates and state machines have them.
import { describe, expect, it } from 'vitest'

import { actionErrorText } from '@/app/logic/action-error'
import { deviceRows, draftProblems, parseLevels, sensorInputs } from '@/app/logic/devices'
import { mayAccept, signerName } from '@/app/logic/handovers'
import { cutPage, CursorTrail } from '@/app/logic/pager'
import { invitableRoles, looksLikeEmail, mayRemove } from '@/app/logic/people'
import { expiryAfter, inForce } from '@/app/logic/permits'
import { may } from '@/app/logic/roles'
import { assigneeOf, isWorkable, localInputToIso, needsNote, nextStatuses, openItemCount, parseChecklist } from '@/app/logic/work-orders'
import { GraphQLRequestError, ServerUnreachableError } from '@/shared/graphql/client'

describe('permissions mirror the role templates', () => {
  it('lets only owner and safety manager manage devices, rules, permits and members', () => {
    for (const permission of ['device:create', 'device:update', 'alarm_rule:update', 'zone:update', 'membership:create'] as const) {
      expect(may('owner', permission), permission).toBe(true)
      expect(may('safety_manager', permission), permission).toBe(true)
      expect(may('operator', permission), permission).toBe(false)
      expect(may('viewer', permission), permission).toBe(false)
    }
  })

  it('lets an operator create and update work orders and handovers but not verify', () => {
    expect(may('operator', 'work_order:create')).toBe(true)
    expect(may('operator', 'handover:update')).toBe(true)
    expect(may('operator', 'work_order:verify')).toBe(false)
    expect(may('safety_manager', 'work_order:verify')).toBe(true)
    expect(may('viewer', 'work_order:read')).toBe(true)
    expect(may('viewer', 'work_order:create')).toBe(false)
    expect(may('viewer', 'worker:read')).toBe(false)
    expect(may(null, 'site:read')).toBe(false)
  })
})

describe('work order moves', () => {
  it('follows OPEN → IN_PROGRESS → DONE → VERIFIED, cancelling from the first two', () => {
    expect(nextStatuses('OPEN', 'operator')).toEqual(['IN_PROGRESS', 'CANCELLED'])
    expect(nextStatuses('IN_PROGRESS', 'operator')).toEqual(['DONE', 'CANCELLED'])
    expect(nextStatuses('VERIFIED', 'owner')).toEqual([])
    expect(nextStatuses('CANCELLED', 'owner')).toEqual([])
  })

  it('offers verifying only to owner and safety manager', () => {
    expect(nextStatuses('DONE', 'operator')).toEqual([])
    expect(nextStatuses('DONE', 'safety_manager')).toEqual(['VERIFIED'])
    expect(nextStatuses('DONE', 'owner')).toEqual(['VERIFIED'])
  })

  it('offers a viewer nothing', () => {
    expect(nextStatuses('OPEN', 'viewer')).toEqual([])
    expect(isWorkable('OPEN', 'viewer')).toBe(false)
  })

  it('asks a note for cancelling only, and ticks only open orders', () => {
    expect(needsNote('CANCELLED')).toBe(true)
    expect(needsNote('DONE')).toBe(false)
    expect(isWorkable('IN_PROGRESS', 'operator')).toBe(true)
    expect(isWorkable('DONE', 'operator')).toBe(false)
  })

  it('reads a checklist one item a line and counts the open ones', () => {
    expect(parseChecklist('  关阀门 \n\n检测浓度\n  ')).toEqual(['关阀门', '检测浓度'])
    const item = (done: boolean) => ({ index: 0, text: 'x', done, doneBy: null, doneAt: null })
    expect(openItemCount([item(true), item(false), item(false)])).toBe(2)
  })

  it('sends the picked assignee as a member or a worker, or none', () => {
    expect(assigneeOf('user:u-1')).toEqual({ assigneeUserId: 'u-1', assigneeWorkerId: null })
    expect(assigneeOf('worker:w-1')).toEqual({ assigneeUserId: null, assigneeWorkerId: 'w-1' })
    expect(assigneeOf('')).toEqual({ assigneeUserId: null, assigneeWorkerId: null })
  })

  it('turns a local date-time into an instant and refuses nonsense', () => {
    expect(localInputToIso('')).toBeNull()
    expect(localInputToIso('not a date')).toBeNull()
    expect(localInputToIso('2026-12-03T08:30')).toBe(new Date('2026-12-03T08:30').toISOString())
  })
})

describe('handover acceptance', () => {
  const pending = { accepted: false, handedOverBy: 'u1' }

  it('is for another member who may update handovers, while unaccepted', () => {
    expect(mayAccept(pending, 'u2', 'operator')).toBe(true)
    expect(mayAccept(pending, 'u1', 'operator')).toBe(false)
    expect(mayAccept({ ...pending, accepted: true }, 'u2', 'operator')).toBe(false)
    expect(mayAccept(pending, 'u2', 'viewer')).toBe(false)
    expect(mayAccept(pending, null, 'owner')).toBe(false)
  })

  it('names a signer by email when known, else by a short id', () => {
    expect(signerName('u1', new Map([['u1', 'a@example.cn']]))).toBe('a@example.cn')
    expect(signerName('0123456789abcdef', new Map())).toBe('#01234567')
  })
})

describe('devices', () => {
  it('lists the devices of the status with their sensors, by name', () => {
    const rows = deviceRows({
      site: {
        id: 's',
        name: 'S',
        tenantId: 't',
        zones: [],
        sensors: [
          { id: 'x2', code: 'GT-2', kind: 'oxygen', unit: '%VOL', zone: null, deviceId: 'd2' },
          { id: 'x1', code: 'GT-1', kind: 'oxygen', unit: '%VOL', zone: null, deviceId: 'd2' },
          { id: 'x3', code: 'GT-3', kind: 'oxygen', unit: '%VOL', zone: null, deviceId: 'revoked' },
        ],
      },
      siteStatus: {
        asOf: '2026-12-02T00:00:00Z',
        devicesTotal: 2,
        devicesOnline: 1,
        devices: [
          { id: 'd2', name: 'B 网关', online: true, lastSeen: '2026-12-02T00:00:00Z' },
          { id: 'd1', name: 'A 网关', online: false, lastSeen: null },
        ],
      },
    })
    expect(rows.map((r) => r.id)).toEqual(['d1', 'd2'])
    expect(rows[1]!.sensors.map((s) => s.code)).toEqual(['GT-1', 'GT-2'])
    expect(rows[0]!.sensors).toEqual([])
  })

  it('says what is missing in a new device before sending it', () => {
    expect(draftProblems('', [])).toEqual(['devices.needName', 'devices.needSensor'])
    const gas = { code: 'T-1', kind: 'toxic_gas', zone: '', gas: '' }
    expect(draftProblems('网关', [gas, { ...gas, code: ' T-1 ', kind: 'oxygen' }])).toEqual(['devices.duplicateCode', 'devices.needGas'])
    expect(draftProblems('网关', [{ code: '', kind: 'nonsense', zone: '', gas: '' }])).toEqual(['devices.needCode', 'devices.needKind'])
    expect(draftProblems('网关', [{ ...gas, gas: 'H2S' }])).toEqual([])
  })

  it('sends each sensor with the unit of its kind and a gas only where one is needed', () => {
    expect(
      sensorInputs([
        { code: ' T-1 ', kind: 'toxic_gas', zone: '罐区', gas: 'H2S' },
        { code: 'O-1', kind: 'oxygen', zone: '', gas: 'H2S' },
      ]),
    ).toEqual([
      { code: 'T-1', kind: 'toxic_gas', unit: 'ppm', zone: '罐区', gas: 'H2S' },
      { code: 'O-1', kind: 'oxygen', unit: '%VOL', zone: null, gas: null },
    ])
  })

  it('reads edited setpoints as numbers and refuses text', () => {
    const level = { name: 'H', severity: 'ORANGE' as const, direction: 'high', setpoint: '25', clearAt: '20.5' }
    expect(parseLevels([level])).toEqual([{ ...level, setpoint: 25, clearAt: 20.5 }])
    expect(parseLevels([{ ...level, setpoint: 'abc' }])).toBeNull()
    expect(parseLevels([{ ...level, clearAt: ' ' }])).toBeNull()
  })
})

describe('people', () => {
  it('invites only the roles the server lets each role grant', () => {
    expect(invitableRoles('owner')).toEqual(['owner', 'safety_manager', 'operator', 'viewer'])
    expect(invitableRoles('safety_manager')).toEqual(['operator', 'viewer'])
    expect(invitableRoles('operator')).toEqual([])
    expect(invitableRoles(null)).toEqual([])
  })

  it('removes only grantable roles, never oneself', () => {
    expect(mayRemove('safety_manager', 'operator', false)).toBe(true)
    expect(mayRemove('safety_manager', 'owner', false)).toBe(false)
    expect(mayRemove('owner', 'owner', true)).toBe(false)
    expect(mayRemove('viewer', 'viewer', false)).toBe(false)
  })

  it('checks an address looks like one', () => {
    expect(looksLikeEmail(' new@example.cn ')).toBe(true)
    expect(looksLikeEmail('new@')).toBe(false)
  })
})

describe('permits and silences', () => {
  const now = Date.parse('2026-12-02T12:00:00Z')

  it('expires a duration after now', () => {
    expect(expiryAfter(now, 8)).toBe('2026-12-02T20:00:00.000Z')
  })

  it('is in force between start and expiry, unless cancelled or closed', () => {
    const base = { startsAt: '2026-12-02T11:00:00Z', expiresAt: '2026-12-02T13:00:00Z', cancelledAt: null }
    expect(inForce(base, now)).toBe(true)
    expect(inForce({ ...base, startsAt: '2026-12-02T12:30:00Z' }, now)).toBe(false)
    expect(inForce({ ...base, expiresAt: '2026-12-02T11:59:00Z' }, now)).toBe(false)
    expect(inForce({ ...base, cancelledAt: '2026-12-02T11:30:00Z' }, now)).toBe(false)
    expect(inForce({ expiresAt: base.expiresAt, closedAt: '2026-12-02T11:30:00Z' }, now)).toBe(false)
  })
})

describe('paging by cursor', () => {
  it('knows a next page from one item more than a page', () => {
    expect(cutPage([1, 2, 3], 2)).toEqual({ items: [1, 2], hasNext: true })
    expect(cutPage([1, 2], 2)).toEqual({ items: [1, 2], hasNext: false })
  })

  it('goes forward by the last id and back the same way', () => {
    const trail = new CursorTrail()
    expect(trail.after).toBeNull()
    trail.next('a')
    trail.next('b')
    expect([trail.index, trail.after]).toEqual([2, 'b'])
    trail.back()
    expect(trail.after).toBe('a')
    trail.back()
    trail.back()
    expect([trail.index, trail.after]).toEqual([0, null])
    trail.next('c')
    trail.reset()
    expect(trail.after).toBeNull()
  })
})

describe('errors shown to the person', () => {
  const t = (key: string, values?: Record<string, unknown>) => `${key}${values ? JSON.stringify(values) : ''}`

  it("shows the server's own message for bad input, and FORBIDDEN as not allowed", () => {
    expect(actionErrorText(new GraphQLRequestError('the checklist is not finished', 'BAD_USER_INPUT'), t)).toBe(
      'common.refused{"message":"the checklist is not finished"}',
    )
    expect(actionErrorText(new GraphQLRequestError('no', 'FORBIDDEN'), t)).toBe('common.forbidden{"message":"no"}')
    expect(actionErrorText(new ServerUnreachableError('down'), t)).toBe('common.unreachable')
  })
})
