// The government portal's wording of figures, its breadcrumbs and its menu by role.
import { describe, expect, it } from 'vitest'

import { breadcrumb, governedDivisions, isDivisionCode, lineage } from '@/gov/logic/divisions'
import { alarmCount, alarmTotal, gradeText, percent, riskClass, riskLabelKey } from '@/gov/logic/figures'
import { exportName, minutes, qualityHeader, qualityRows, rankingHeader, rankingRows } from '@/gov/logic/exports'
import { govMenuFor, govRoles } from '@/gov/logic/roles'
import { trendOption } from '@/gov/logic/trend'
import { messages } from '@/shared/i18n/messages'

describe('risk colours', () => {
  it.each([
    ['RED', 'risk--red', 'risk.RED'],
    ['ORANGE', 'risk--orange', 'risk.ORANGE'],
    ['YELLOW', 'risk--yellow', 'risk.YELLOW'],
    ['BLUE', 'risk--blue', 'risk.BLUE'],
  ] as const)('%s is the class %s and the label %s', (color, css, key) => {
    expect(riskClass(color)).toBe(css)
    expect(riskLabelKey(color)).toBe(key)
  })

  it('shows a division without sites as grey, labelled so', () => {
    expect(riskClass(null)).toBe('risk--none')
    expect(riskLabelKey(null)).toBe('risk.none')
    expect(riskClass(undefined)).toBe('risk--none')
  })

  it('names every colour in both languages, so colour is never the only sign', () => {
    for (const key of ['RED', 'ORANGE', 'YELLOW', 'BLUE', 'none'] as const) {
      expect(messages['zh-CN'].risk[key]).toBeTruthy()
      expect(messages.en.risk[key]).toBeTruthy()
    }
    expect(messages['zh-CN'].risk.RED).toContain('红')
  })
})

describe('percent', () => {
  it('writes a rate with one decimal', () => {
    expect(percent(0.755)).toBe('75.5%')
    expect(percent(0.8)).toBe('80.0%')
    expect(percent(1)).toBe('100.0%')
    expect(percent(0)).toBe('0.0%')
    expect(percent(2 / 3)).toBe('66.7%')
  })

  it('writes a dash where there is no rate (no sensors)', () => {
    expect(percent(null)).toBe('—')
    expect(percent(undefined)).toBe('—')
    expect(percent(Number.NaN)).toBe('—')
  })
})

describe('gradeText', () => {
  it('writes the grades 1–4 as I–IV and anything else as a dash', () => {
    expect([1, 2, 3, 4].map(gradeText)).toEqual(['I', 'II', 'III', 'IV'])
    expect(gradeText(null)).toBe('—')
    expect(gradeText(0)).toBe('—')
    expect(gradeText(5)).toBe('—')
  })
})

describe('alarm counts', () => {
  const counts = [
    { severity: 'RED', count: 2 },
    { severity: 'ORANGE', count: 1 },
    { severity: 'YELLOW', count: 0 },
  ] as const
  it('adds the severities up and reads one, 0 when absent', () => {
    expect(alarmTotal([...counts])).toBe(3)
    expect(alarmCount([...counts], 'RED')).toBe(2)
    expect(alarmCount([...counts], 'BLUE')).toBe(0)
  })
})

describe('divisions', () => {
  it('knows the province and the city above a code', () => {
    expect(lineage('320102')).toEqual(['320000', '320100', '320102'])
    expect(lineage('320100')).toEqual(['320000', '320100'])
    expect(lineage('320000')).toEqual(['320000'])
    expect(lineage('3201')).toEqual([])
    expect(isDivisionCode('32010a')).toBe(false)
  })

  it('reads the governed divisions from gov memberships only', () => {
    const memberships = [
      { domain: 'gov:320100', role: 'director' },
      { domain: 'tenant:6c1f0a4e-0000-4000-8000-000000000001', role: 'owner' },
      { domain: 'gov:320100', role: 'analyst' },
      { domain: 'gov:not-a-code', role: 'analyst' },
      { domain: 'platform', role: 'platform_admin' },
    ]
    expect(governedDivisions(memberships)).toEqual(['320100'])
  })

  const names = new Map([
    ['320000', '江苏省'],
    ['320100', '南京市'],
    ['320102', '玄武区'],
  ])

  it('leads a provincial regulator from the province down to a district', () => {
    expect(breadcrumb('320102', ['320000'], names)).toEqual([
      { code: '320000', name: '江苏省', current: false },
      { code: '320100', name: '南京市', current: false },
      { code: '320102', name: '玄武区', current: true },
    ])
  })

  it('starts a city regulator at the city: nothing above it is theirs', () => {
    expect(breadcrumb('320102', ['320100'], names).map((c) => c.code)).toEqual(['320100', '320102'])
  })

  it('leaves a name unknown until an answer gives it', () => {
    expect(breadcrumb('320102', ['320000'], new Map([['320000', '江苏省']]))).toEqual([
      { code: '320000', name: '江苏省', current: false },
      { code: '320100', name: null, current: false },
      { code: '320102', name: null, current: true },
    ])
  })

  it('gives no way to a division outside the jurisdiction', () => {
    expect(breadcrumb('320508', ['320100'], names)).toEqual([])
    expect(breadcrumb('bad', ['320100'], names)).toEqual([])
  })
})

describe('government roles', () => {
  it('shows the overview to each government role', () => {
    for (const role of ['director', 'inspector', 'analyst'] as const) {
      expect(govMenuFor([role]).map((item) => item.key)).toEqual(['overview', 'alarms', 'reports', 'rankings', 'quality', 'inspections', 'notices', 'supervisions'])
    }
  })

  it('takes roles from gov memberships only, and gives an enterprise role nothing', () => {
    const enterprise = [{ domain: 'tenant:6c1f0a4e-0000-4000-8000-000000000001', role: 'owner' }]
    expect(govRoles(enterprise)).toEqual([])
    expect(govMenuFor(govRoles(enterprise))).toEqual([])
    expect(govRoles([{ domain: 'gov:320100', role: 'analyst' }, { domain: 'gov:320000', role: 'director' }])).toEqual([
      'director',
      'analyst',
    ])
  })
})

describe('English counts', () => {
  it('says one site, and sites for any other number', async () => {
    const { createPortalI18n } = await import('@/shared/i18n')
    const { t } = createPortalI18n('en').global
    expect(t('gov.siteCount', { count: 1 }, 1)).toBe('1 site')
    expect(t('gov.siteCount', { count: 0 }, 0)).toBe('0 sites')
    expect(t('gov.siteCount', { count: 3 }, 3)).toBe('3 sites')
  })
})

describe('the exported tables', () => {
  const zh = (key: string): string =>
    key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], messages['zh-CN']) as string

  it('writes rankings in the page order with places, percentages and minutes', () => {
    const rows = rankingRows([
      {
        tenant: { id: 't1', name: '=甲化工' },
        sites: 2,
        sensors: 10,
        onlineRate: 0.9,
        alarms: 3,
        mttaSeconds: 90,
        mttrSeconds: null,
        falsePositiveRate: 1 / 3,
        overdueNotices: 1,
      },
    ])
    expect(rows).toEqual([[1, '=甲化工', 2, 10, '90.0%', 3, '1.5', '—', '33.3%', 1]])
    expect(rankingHeader(zh)).toEqual([
      '名次', '企业', '厂区数', '监测点数', '在线率', '报警数', '平均确认（分钟）', '平均恢复（分钟）', '误报率', '逾期整改',
    ])
  })

  it('names problems in the page language and values with their unit', () => {
    const point = {
      sensor: { id: 's1', code: 'GT-1', kind: 'combustible_gas', unit: '%LEL' },
      site: { id: 'x', name: '一号库区', tenant: { name: '甲化工' } },
      problem: 'FLATLINE' as const,
      since: '2026-12-03T01:00:00Z',
      lastSeen: '2026-12-03T05:00:00Z',
      lastValue: 12.5,
    }
    expect(qualityRows([point, { ...point, problem: 'STALE', lastValue: null }], zh)).toEqual([
      ['甲化工', '一号库区', 'GT-1', 'combustible_gas', '数值不变', '2026-12-03T01:00:00Z', '2026-12-03T05:00:00Z', '12.5 %LEL'],
      ['甲化工', '一号库区', 'GT-1', 'combustible_gas', '数据中断', '2026-12-03T01:00:00Z', '2026-12-03T05:00:00Z', null],
    ])
    expect(qualityHeader(zh)[4]).toBe('问题')
  })

  it('rounds minutes and names files by division and day', () => {
    expect(minutes(null)).toBe('—')
    expect(minutes(30)).toBe('0.5')
    expect(exportName('rankings', '320100', new Date('2026-12-03T08:00:00Z'))).toBe('rankings-320100-2026-12-03.csv')
  })
})

describe('the online rate trend', () => {
  it('plots percent with gaps for days without sensors and marks 99.5 %', () => {
    const option = trendOption(
      [
        { day: '2026-12-01', rate: 0.9955 },
        { day: '2026-12-02', rate: null },
        { day: '2026-12-03', rate: 0.42 },
      ],
      '在线率',
      '要求',
    ) as { xAxis: { data: string[] }; yAxis: { min: number }; series: { data: (number | null)[]; markLine: { data: { yAxis: number }[] } }[] }
    expect(option.xAxis.data).toEqual(['12-01', '12-02', '12-03'])
    expect(option.series[0]!.data).toEqual([99.6, null, 42])
    expect(option.series[0]!.markLine.data[0]!.yAxis).toBeCloseTo(99.5)
    expect(option.yAxis.min).toBe(40)
  })
})
