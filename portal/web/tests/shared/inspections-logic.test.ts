// What the inspection pages check before sending: a record (the site, a day not after today
// in Beijing, each finding within its limits), a day range, and the list as CSV.
import { describe, expect, it } from 'vitest'

import type { InspectionRow } from '@/shared/inspections/api'
import {
  dayRange,
  inspectionHeader,
  inspectionRows,
  inspectorChoices,
  mayTurnIntoNotice,
  recordProblems,
} from '@/shared/inspections/logic'

const keys = (problems: { key: string }[]) => problems.map((p) => p.key)
// 2026-12-03 20:00 in Beijing.
const NOW = new Date('2026-12-03T12:00:00Z')
const DRAFT = { siteId: 'site-1', day: '2026-12-03', summary: '', findings: [{ finding: '', basis: '' }], inspectors: null }

describe('a record', () => {
  it('may find nothing: an empty row is no finding', () => {
    expect(recordProblems(DRAFT, NOW)).toEqual([])
  })

  it('needs the site and a day not after today in Beijing', () => {
    expect(keys(recordProblems({ ...DRAFT, siteId: '', day: '' }, NOW))).toEqual(['inspections.problem.noSite', 'inspections.problem.noDay'])
    expect(keys(recordProblems({ ...DRAFT, day: '2026-12-04' }, NOW))).toEqual(['inspections.problem.futureDay'])
    // At 01:00 Beijing on the 4th it is already the 4th there, while UTC is still the 3rd.
    expect(recordProblems({ ...DRAFT, day: '2026-12-04' }, new Date('2026-12-03T17:00:00Z'))).toEqual([])
  })

  it('refuses a basis without its finding and text over the limits, naming the row', () => {
    const problems = recordProblems(
      {
        ...DRAFT,
        summary: 'x'.repeat(4001),
        findings: [
          { finding: '消防通道堵塞', basis: '' },
          { finding: ' ', basis: '《安全生产法》第四十二条' },
          { finding: 'x'.repeat(2001), basis: 'y'.repeat(1001) },
        ],
      },
      NOW,
    )
    expect(problems).toEqual([
      { key: 'notices.problem.noFinding', values: { n: 2 } },
      { key: 'notices.problem.findingTooLong', values: { n: 3, max: 2000 } },
      { key: 'notices.problem.basisTooLong', values: { n: 3, max: 1000 } },
      { key: 'inspections.problem.summaryTooLong', values: { max: 4000 } },
    ])
  })

  it('holds at most a hundred findings', () => {
    const findings = Array.from({ length: 101 }, (_, i) => ({ finding: `问题 ${i}`, basis: '' }))
    expect(keys(recordProblems({ ...DRAFT, findings }, NOW))).toEqual(['inspections.problem.tooMany'])
  })
})

describe('the inspectors', () => {
  it('are the recorder when none are offered; chosen, at least one and at most twenty', () => {
    expect(recordProblems({ ...DRAFT, inspectors: ['u1'] }, NOW)).toEqual([])
    expect(keys(recordProblems({ ...DRAFT, inspectors: [] }, NOW))).toEqual(['inspections.problem.noInspector'])
    const many = Array.from({ length: 21 }, (_, i) => `u${i}`)
    expect(keys(recordProblems({ ...DRAFT, inspectors: many }, NOW))).toEqual(['inspections.problem.tooManyInspectors'])
  })

  it('are offered among directors and inspectors in use, each once, by e-mail', () => {
    const member = (userId: string, email: string, role: string, more = {}) => ({ userId, email, role, disabled: false, suspended: false, ...more })
    const offered = inspectorChoices([
      member('u3', 'zhao@nanjing.gov.cn', 'inspector'),
      member('u1', 'li@nanjing.gov.cn', 'director'),
      member('u2', 'analyst@nanjing.gov.cn', 'analyst'),
      member('u4', 'gone@nanjing.gov.cn', 'inspector', { disabled: true }),
      member('u5', 'paused@nanjing.gov.cn', 'inspector', { suspended: true }),
      member('u1', 'li@nanjing.gov.cn', 'inspector'),
    ])
    expect(offered.map((m) => m.userId)).toEqual(['u1', 'u3'])
  })
})

describe('the day range', () => {
  it('leaves an empty end open and refuses an end before its start', () => {
    expect(dayRange('', '')).toEqual({ from: null, to: null, problem: null })
    expect(dayRange('2026-11-01', '')).toEqual({ from: '2026-11-01', to: null, problem: null })
    expect(dayRange('2026-11-01', '2026-11-01').problem).toBeNull()
    expect(dayRange('2026-11-02', '2026-11-01').problem).toEqual({ key: 'inspections.problem.range' })
  })
})

const ROW: InspectionRow = {
  id: 'i1',
  inspectedOn: '2026-11-18',
  divisionCode: '320100',
  createdAt: '2026-11-18T06:00:00Z',
  site: { id: 's1', name: '东江一号厂区', divisionCode: '320102', tenant: { name: '东江精细化工有限公司' } },
  findings: [
    { finding: '防爆灯具损坏', basis: 'GB 50058-2014' },
    { finding: '应急预案未演练', basis: null },
  ],
  notice: { id: 'n1', number: '南京市应急整改〔2026〕3号', status: 'RESPONDED' },
}

describe('the list as CSV', () => {
  const t = (key: string) => `«${key}»`

  it('has one row per inspection, its findings one a line, the division by name', () => {
    const names = (code: string) => ({ '320102': '玄武区' })[code] ?? code
    expect(inspectionRows([ROW, { ...ROW, findings: [], notice: null }], t, names)).toEqual([
      ['2026-11-18', '东江精细化工有限公司', '东江一号厂区', '玄武区', '1. 防爆灯具损坏（GB 50058-2014）\n2. 应急预案未演练', '南京市应急整改〔2026〕3号', '«noticeStatus.RESPONDED»'],
      ['2026-11-18', '东江精细化工有限公司', '东江一号厂区', '玄武区', '', '', ''],
    ])
    expect(inspectionHeader(t)).toHaveLength(7)
  })
})

describe('turning an inspection into a notice', () => {
  it('is for one that found something and issued none yet', () => {
    expect(mayTurnIntoNotice({ findings: ROW.findings, notice: null })).toBe(true)
    expect(mayTurnIntoNotice(ROW)).toBe(false)
    expect(mayTurnIntoNotice({ findings: [], notice: null })).toBe(false)
  })
})
