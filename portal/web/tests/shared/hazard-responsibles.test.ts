// The accountable persons of a major hazard source: the three roles in order, whom a role can
// be given to, what is wrong with a duty check, and how a register change reads.
import { describe, expect, it } from 'vitest'

import {
  candidatesFor,
  changeLine,
  dutyCheckProblems,
  type HazardUnitChange,
  roleSlots,
} from '@/shared/hazards/responsibles'

const wang = { id: 'w1', name: '王建国', mobile: '13912340001' }

describe('roleSlots', () => {
  it('lists MAIN, TECHNICAL, OPERATIONAL whatever the order given, vacant ones as null', () => {
    const slots = roleSlots([{ role: 'OPERATIONAL', assignedAt: '', worker: wang }])
    expect(slots).toEqual([
      { role: 'MAIN', worker: null },
      { role: 'TECHNICAL', worker: null },
      { role: 'OPERATIONAL', worker: wang },
    ])
  })
})

describe('candidatesFor', () => {
  it("keeps the site's workers and those of no site, by name", () => {
    const workers = [
      { id: 'a', name: '赵', employeeNumber: 'E3', siteId: 's1' },
      { id: 'b', name: '李', employeeNumber: 'E2', siteId: null },
      { id: 'c', name: '钱', employeeNumber: 'E1', siteId: 's2' },
    ]
    expect(candidatesFor(workers, 's1').map((w) => w.id)).toEqual(['b', 'a'])
  })
})

describe('dutyCheckProblems', () => {
  const slots = roleSlots([{ role: 'TECHNICAL', assignedAt: '', worker: wang }])
  const ok = { role: 'TECHNICAL' as const, checkedOn: '2026-12-02', findings: '正常' }

  it('accepts a check of an assigned role on a past day', () => {
    expect(dutyCheckProblems(ok, slots, '2026-12-03')).toEqual([])
    expect(dutyCheckProblems(ok, slots, '2026-12-02')).toEqual([])
  })

  it('refuses a vacant role, a missing or future day and empty or long findings', () => {
    expect(dutyCheckProblems({ ...ok, role: 'MAIN' }, slots, '2026-12-03')).toEqual(['hazardPeople.needPerson'])
    expect(dutyCheckProblems({ ...ok, checkedOn: '' }, slots, '2026-12-03')).toEqual(['hazardPeople.needDay'])
    expect(dutyCheckProblems(ok, slots, '2026-12-01')).toEqual(['hazardPeople.futureDay'])
    expect(dutyCheckProblems({ ...ok, findings: '  ' }, slots, '2026-12-03')).toEqual(['hazardPeople.needFindings'])
    expect(dutyCheckProblems({ ...ok, findings: '长'.repeat(2001) }, slots, '2026-12-03')).toEqual(['hazardPeople.findingsTooLong'])
  })
})

describe('changeLine', () => {
  const base: HazardUnitChange = {
    id: '1',
    at: '2026-12-01T00:00:00Z',
    kind: 'REGISTERED',
    unitId: 'u1',
    unitName: '罐区',
    gradeBefore: null,
    gradeAfter: 3,
    responsibleRole: null,
    responsible: null,
  }
  const grade = (g: number | null) => (g ? `G${g}` : 'none')
  const role = (r: string) => `R:${r}`

  it('names the grade of a registration, both grades of a regrading, the person of an assignment', () => {
    expect(changeLine(base, grade, role)).toEqual({ key: 'hazardPeople.change.REGISTERED', values: { unit: '罐区', grade: 'G3' } })
    expect(changeLine({ ...base, kind: 'UPDATED', gradeBefore: 3 }, grade, role).key).toBe('hazardPeople.change.UPDATED')
    expect(changeLine({ ...base, kind: 'UPDATED', gradeBefore: 4, gradeAfter: null }, grade, role)).toEqual({
      key: 'hazardPeople.change.REGRADED',
      values: { unit: '罐区', before: 'G4', after: 'none' },
    })
    expect(changeLine({ ...base, kind: 'REMOVED' }, grade, role).values).toEqual({ unit: '罐区' })
    expect(
      changeLine({ ...base, kind: 'RESPONSIBLE_ASSIGNED', responsibleRole: 'MAIN', responsible: wang }, grade, role).values,
    ).toEqual({ unit: '罐区', role: 'R:MAIN', name: '王建国' })
  })
})
