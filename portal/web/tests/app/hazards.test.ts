// The major hazard register: how grades read, what a substance search finds, which rows of the
// unit dialog are refused before sending (and what is sent), the estimate while typing; and the
// page: a viewer reads the units, a safety manager registers one and sees the server's refusal.
import { afterEach, describe, expect, it, vi } from 'vitest'

import {
  alphaFor,
  draftsOf,
  emptySubstance,
  estimate,
  gradeFor,
  gradeKey,
  searchSubstances,
  type SubstanceDraft,
  substanceInputs,
  unitProblems,
} from '@/app/logic/hazards'
import HazardsPage from '@/app/pages/HazardsPage.vue'
import type { HazardCatalog, HazardUnit } from '@/app/queries/hazards'
import { createPortalI18n } from '@/shared/i18n'

import { graphqlFetch } from './graphql-mock'
import { buttons, click, fill, gqlError, mountPage, settle, shown, submit } from './page-harness'

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

const CATALOG: HazardCatalog = {
  namedSubstances: [
    { entry: 1, casNumbers: ['7664-41-7'], nameZh: '氨', nameEn: 'Ammonia', aliasesZh: ['液氨', '氨气'], criticalQuantity: 10, beta: 2 },
    { entry: 12, casNumbers: ['7782-50-5'], nameZh: '氯', nameEn: 'Chlorine', aliasesZh: ['液氯', '氯气'], criticalQuantity: 5, beta: 4 },
    { entry: 60, casNumbers: ['67-56-1'], nameZh: '甲醇', nameEn: 'Methanol', aliasesZh: [], criticalQuantity: 500, beta: 1 },
  ],
  categories: [
    { code: 'W5.1', hazardZh: '易燃液体', hazardEn: 'Flammable liquids', descriptionZh: '类别2', descriptionEn: 'Category 2', criticalQuantity: 10, beta: 1.5 },
  ],
}

const row = (values: Partial<SubstanceDraft>): SubstanceDraft => ({ ...emptySubstance(), ...values })
const chlorine = row({ entry: '12', quantity: '10' })

describe('grades', () => {
  it('reads 1 to 4 as grades I to IV and anything else as not a major hazard source', () => {
    const i18n = createPortalI18n('zh-CN')
    const text = (grade: number | null) => i18n.global.t(gradeKey(grade))
    expect([1, 2, 3, 4].map(text)).toEqual(['一级重大危险源', '二级重大危险源', '三级重大危险源', '四级重大危险源'])
    expect(text(null)).toBe('非重大危险源')
    expect(gradeKey(0)).toBe('hazards.notMajor')
    expect(gradeKey(5)).toBe('hazards.notMajor')
    const en = createPortalI18n('en')
    expect(en.global.t(gradeKey(3))).toBe('Grade III major hazard source')
  })

  it('takes α from the people within 500 m and the grade from R on the bounds of Tables 5 and 6', () => {
    expect([0, 1, 29, 30, 49, 50, 99, 100].map(alphaFor)).toEqual([0.5, 1, 1, 1.2, 1.2, 1.5, 1.5, 2])
    expect([100, 99.99, 50, 49.9, 10, 9.99, 0].map(gradeFor)).toEqual([1, 2, 2, 3, 3, 4, 4])
  })
})

describe('searchSubstances', () => {
  it('finds by Chinese name, alias, English name, CAS number or entry, everything when empty', () => {
    const entries = (q: string) => searchSubstances(CATALOG.namedSubstances, q).map((s) => s.entry)
    expect(entries('氯')).toEqual([12])
    expect(entries(' 液氨 ')).toEqual([1])
    expect(entries('chlor')).toEqual([12])
    expect(entries('7782-50')).toEqual([12])
    expect(entries('60')).toEqual([60])
    expect(entries('')).toEqual([1, 12, 60])
    expect(entries('不存在')).toEqual([])
  })
})

describe('unitProblems', () => {
  const unit = (values: Partial<{ name: string; people: string; substances: SubstanceDraft[] }>) => ({
    name: '液氯储罐区',
    people: '60',
    substances: [chlorine],
    ...values,
  })

  it('lets a complete unit through', () => {
    expect(unitProblems(unit({}), CATALOG)).toEqual([])
  })

  it('refuses a missing name, a head count that is not a whole number 0 or more, no substances', () => {
    const keys = (u: ReturnType<typeof unit>) => unitProblems(u, CATALOG).map((p) => p.key)
    expect(keys(unit({ name: '  ' }))).toEqual(['hazards.needName'])
    expect(keys(unit({ name: 'x'.repeat(201) }))).toEqual(['hazards.nameTooLong'])
    for (const people of ['', '-1', '2.5', 'abc']) expect(keys(unit({ people }))).toEqual(['hazards.needPeople'])
    expect(keys(unit({ people: '0' }))).toEqual([])
    expect(keys(unit({ substances: [] }))).toEqual(['hazards.needSubstance'])
  })

  it('names each row that has no substance, an unknown one, a repeat, or no positive quantity', () => {
    const problems = unitProblems(
      unit({
        substances: [
          chlorine,
          row({ quantity: '1' }),
          row({ source: 'category', quantity: '1' }),
          row({ entry: '999', quantity: '1' }),
          row({ entry: '12', quantity: '0' }),
          row({ entry: '1', quantity: 'x' }),
          row({ source: 'category', category: 'W5.1', quantity: '-2' }),
        ],
      }),
      CATALOG,
    )
    expect(problems).toEqual([
      { key: 'hazards.rowNeedSubstance', values: { n: 2 } },
      { key: 'hazards.rowNeedCategory', values: { n: 3 } },
      { key: 'hazards.rowUnknown', values: { n: 4 } },
      { key: 'hazards.rowDuplicate', values: { n: 5 } },
      { key: 'hazards.rowNeedQuantity', values: { n: 5 } },
      { key: 'hazards.rowNeedQuantity', values: { n: 6 } },
      { key: 'hazards.rowNeedQuantity', values: { n: 7 } },
    ])
    const i18n = createPortalI18n('zh-CN')
    expect(i18n.global.t(problems[0]!.key, problems[0]!.values!)).toBe('第 2 种物质：请选择物质。')
  })
})

describe('what is sent and estimated', () => {
  it('sends a named substance by its CAS number where that names it alone, else by its entry', () => {
    const shared: HazardCatalog = {
      ...CATALOG,
      namedSubstances: [
        ...CATALOG.namedSubstances,
        { entry: 70, casNumbers: ['0000-00-1'], nameZh: '甲', nameEn: 'A', aliasesZh: [], criticalQuantity: 1, beta: 1 },
        { entry: 71, casNumbers: ['0000-00-1'], nameZh: '乙', nameEn: 'B', aliasesZh: [], criticalQuantity: 2, beta: 1 },
        { entry: 72, casNumbers: [], nameZh: '丙', nameEn: 'C', aliasesZh: [], criticalQuantity: 2, beta: 1 },
      ],
    }
    expect(
      substanceInputs(
        [
          chlorine,
          row({ source: 'category', category: 'W5.1', entry: '12', quantity: '2.5' }),
          row({ entry: '1', quantity: '3', name: '液氨', betaCategory: null }),
          row({ entry: '70', quantity: '1' }),
          row({ entry: '72', quantity: '1' }),
        ],
        shared,
      ),
    ).toEqual([
      { quantityTonnes: 10, casNumber: '7782-50-5' },
      { quantityTonnes: 2.5, category: 'W5.1' },
      { quantityTonnes: 3, casNumber: '7664-41-7', name: '液氨' },
      { quantityTonnes: 1, entry: 70 },
      { quantityTonnes: 1, entry: 72 },
    ])
  })

  it('turns a registered unit back into rows, named ones by entry and categories by code', () => {
    const drafts = draftsOf(UNIT.substances)
    expect(drafts.map((d) => [d.source, d.entry, d.category, d.quantity, d.name])).toEqual([
      ['named', '12', '', '10', '液氯'],
      ['category', '', 'W5.1', '4', null],
    ])
  })

  it('estimates chlorine 10 t with 60 people as R 12, grade III; nothing while a row is incomplete', () => {
    expect(estimate({ name: '', people: '60', substances: [chlorine] }, CATALOG)).toEqual({
      sumQOverQ: 2,
      alpha: 1.5,
      rValue: 12,
      grade: 3,
    })
    expect(estimate({ name: '', people: '60', substances: [row({ entry: '60', quantity: '100' })] }, CATALOG)?.grade).toBeNull()
    expect(estimate({ name: '', people: '', substances: [chlorine] }, CATALOG)).toBeNull()
    expect(estimate({ name: '', people: '60', substances: [chlorine, row({ entry: '1' })] }, CATALOG)).toBeNull()
    expect(estimate({ name: '', people: '60', substances: [chlorine] }, null)).toBeNull()
  })
})

const UNIT: HazardUnit = {
  id: 'u1',
  name: '液氯储罐区',
  peopleWithin500m: 60,
  alpha: 1.5,
  sumQOverQ: 2.4,
  rValue: 12.6,
  grade: 3,
  isMajorHazard: true,
  substances: [
    { name: '液氯', standardName: '氯', standardNameEn: 'Chlorine', casNumber: '7782-50-5', entry: 12, category: null, betaCategory: null, quantityTonnes: 10, criticalQuantity: 5, beta: 4, ratio: 2 },
    { name: '易燃液体', standardName: '易燃液体', standardNameEn: 'Flammable liquids', casNumber: null, entry: null, category: 'W5.1', betaCategory: null, quantityTonnes: 4, criticalQuantity: 10, beta: 1.5, ratio: 0.4 },
  ],
  responsibles: [],
  dutyRecords: [],
  lastTechnicalCheckAt: null,
  technicalCheckOverdue: true,
}

const site = (units: HazardUnit[], grade: number | null) => ({
  data: { site: { id: 'site-1', name: '一号厂区', majorHazardGrade: grade, hazardUnits: units } },
})

describe('HazardsPage', () => {
  it('shows a viewer the site grade and each unit with its figures, and nothing to change', async () => {
    graphqlFetch({ ConsoleHazards: site([UNIT], 3) })
    const { wrapper } = await mountPage(HazardsPage, 'viewer', '/page')
    const text = wrapper.text()
    expect(text).toContain('厂区等级 三级重大危险源')
    expect(text).toContain('500 m 内人数 60')
    expect(text).toContain('Σq/Q 2.4')
    expect(text).toContain('α 1.5')
    expect(text).toContain('R 12.6')
    expect(text).toContain('液氯（氯）')
    expect(text).toContain('q 10 t')
    expect(text).toContain('Q 5 t')
    expect(text).toContain('β 4')
    expect(text).toContain('q/Q 0.4')
    expect(buttons('登记辨识单元')).toHaveLength(0)
    expect(buttons('编辑')).toHaveLength(0)
    expect(buttons('删除')).toHaveLength(0)
  })

  it('says a site without units is not a major hazard source', async () => {
    graphqlFetch({ ConsoleHazards: site([], null) })
    const { wrapper } = await mountPage(HazardsPage, 'operator', '/page')
    expect(wrapper.text()).toContain('厂区等级 非重大危险源')
    expect(wrapper.text()).toContain('尚未登记辨识单元。')
  })

  it('lets a safety manager register a unit: checked first, then the server refuses, then it is saved', async () => {
    let attempts = 0
    const { asked } = graphqlFetch({
      ConsoleHazards: site([], null),
      ConsoleHazardCatalog: { data: { hazardCatalog: CATALOG } },
      RegisterHazardUnit: () => {
        attempts += 1
        if (attempts === 1) return gqlError('the site already has a hazard unit named 液氯储罐区', 'BAD_USER_INPUT')
        return { data: { registerHazardUnit: { ...UNIT, sumQOverQ: 2, rValue: 12, substances: [UNIT.substances[0]] } } }
      },
    })
    await mountPage(HazardsPage, 'safety_manager', '/page')
    await click('登记辨识单元')
    await shown('input[name="unit-name"]')
    await settle()
    await submit('.el-dialog form')
    expect(document.body.textContent).toContain('请填写单元名称。')
    expect(document.body.textContent).toContain('第 1 种物质：请选择物质。')
    expect(asked.some((a) => a.operation === 'RegisterHazardUnit')).toBe(false)

    fill('input[name="unit-name"]', '液氯储罐区')
    fill('input[name="people"]', '60')
    fill('input[name="search-0"]', '7782-50-5')
    await settle()
    expect(document.querySelector<HTMLSelectElement>('select[name="entry-0"]')!.value).toBe('12')
    fill('input[name="quantity-0"]', '10')
    await settle()
    expect(document.body.textContent).toContain('估算（以服务器计算为准）：Σq/Q 2 · α 1.5 · R 12 · 三级重大危险源')

    await submit('.el-dialog form')
    expect(document.body.textContent).toContain('未完成：the site already has a hazard unit named 液氯储罐区')
    expect(document.querySelector('input[name="unit-name"]')).not.toBeNull()

    await submit('.el-dialog form')
    const sent = asked.filter((a) => a.operation === 'RegisterHazardUnit').at(-1)!
    expect(sent.variables).toEqual({
      siteId: 'site-1',
      name: '液氯储罐区',
      peopleWithin500m: 60,
      substances: [{ quantityTonnes: 10, casNumber: '7782-50-5' }],
    })
    expect(document.body.textContent).toContain('已登记“液氯储罐区”：三级重大危险源。')
  })

  it('edits a unit with its rows filled in and removes one after asking', async () => {
    const { asked } = graphqlFetch({
      ConsoleHazards: site([UNIT], 3),
      ConsoleHazardCatalog: { data: { hazardCatalog: CATALOG } },
      UpdateHazardUnit: { data: { updateHazardUnit: { ...UNIT, peopleWithin500m: 120 } } },
      RemoveHazardUnit: { data: { removeHazardUnit: { id: 'site-1', majorHazardGrade: null } } },
    })
    await mountPage(HazardsPage, 'owner', '/page')
    document.querySelector<HTMLButtonElement>('button[aria-label="编辑辨识单元 液氯储罐区"]')!.click()
    await shown('input[name="unit-name"]')
    await settle()
    expect(document.querySelector<HTMLInputElement>('input[name="people"]')!.value).toBe('60')
    expect(document.querySelector<HTMLSelectElement>('select[name="category-1"]')!.value).toBe('W5.1')
    fill('input[name="people"]', '120')
    await submit('.el-dialog form')
    const update = asked.find((a) => a.operation === 'UpdateHazardUnit')!
    expect(update.variables).toEqual({
      id: 'u1',
      name: '液氯储罐区',
      peopleWithin500m: 120,
      substances: [
        { quantityTonnes: 10, casNumber: '7782-50-5', name: '液氯' },
        { quantityTonnes: 4, category: 'W5.1' },
      ],
    })

    document.querySelector<HTMLButtonElement>('button[aria-label="删除辨识单元 液氯储罐区"]')!.click()
    await settle()
    expect(document.body.textContent).toContain('确定删除辨识单元“液氯储罐区”吗？')
    await submit('.confirm-form')
    expect(asked.find((a) => a.operation === 'RemoveHazardUnit')?.variables).toEqual({ id: 'u1' })
    expect(document.body.textContent).toContain('已删除“液氯储罐区”。')
  })
})

describe('HazardsPage: accountable persons', () => {
  const WORKERS = {
    data: {
      workers: [
        { id: 'w1', name: '王建国', mobile: '13912340001', idNumber: null, employeeNumber: 'E-1', siteId: 'site-1' },
        { id: 'w2', name: '李工程', mobile: '13912340002', idNumber: null, employeeNumber: 'E-2', siteId: null },
        { id: 'w3', name: '外厂员工', mobile: null, idNumber: null, employeeNumber: 'E-3', siteId: 'site-2' },
      ],
    },
  }
  const staffed: HazardUnit = {
    ...UNIT,
    responsibles: [{ role: 'MAIN', assignedAt: '2026-12-01T00:00:00Z', worker: { id: 'w1', name: '王建国', mobile: '13912340001' } }],
  }

  it('shows a viewer who holds each role and the overdue technical check, with nothing to change', async () => {
    const { asked } = graphqlFetch({ ConsoleHazards: site([staffed], 3) })
    const { wrapper } = await mountPage(HazardsPage, 'viewer', '/page')
    const text = wrapper.text()
    expect(text).toContain('主要负责人王建国 · 13912340001')
    expect(text).toContain('技术负责人未指定')
    expect(text).toContain('技术负责人检查已逾期')
    expect(text).toContain('技术负责人尚无检查记录')
    expect(document.querySelector('select[name="responsible-MAIN"]')).toBeNull()
    expect(document.querySelector('textarea[name="findings"]')).toBeNull()
    expect(asked.some((a) => a.operation === 'ConsoleWorkers')).toBe(false)
  })

  it('lets a safety manager give a role to one of the site\'s workers and record a duty check', async () => {
    let unit = staffed
    const { asked } = graphqlFetch({
      ConsoleHazards: () => site([unit], 3),
      ConsoleWorkers: WORKERS,
      AssignHazardResponsible: () => {
        unit = {
          ...unit,
          responsibles: [...unit.responsibles, { role: 'TECHNICAL', assignedAt: '2026-12-02T00:00:00Z', worker: { id: 'w2', name: '李工程', mobile: '13912340002' } }],
        }
        return { data: { assignHazardResponsible: { id: 'u1' } } }
      },
      RecordHazardDutyCheck: () => {
        unit = { ...unit, lastTechnicalCheckAt: '2026-12-02', technicalCheckOverdue: false }
        return { data: { recordHazardDutyCheck: { id: 'd1' } } }
      },
    })
    await mountPage(HazardsPage, 'safety_manager', '/page')
    const options = [...document.querySelectorAll<HTMLOptionElement>('select[name="responsible-TECHNICAL"] option')].map((o) => o.textContent?.trim())
    expect(options).toEqual(['选择人员', '李工程 · E-2', '王建国 · E-1'])

    fill('select[name="responsible-TECHNICAL"]', 'w2')
    await settle()
    await click('指定', 1)
    await settle()
    expect(asked.find((a) => a.operation === 'AssignHazardResponsible')!.variables).toEqual({ unitId: 'u1', role: 'TECHNICAL', workerId: 'w2' })
    expect(document.body.textContent).toContain('已将液氯储罐区的技术负责人指定为李工程。')
    expect(document.body.textContent).toContain('技术负责人李工程 · 13912340002')

    await submit('form.people__form')
    expect(document.body.textContent).toContain('请填写检查情况。')
    expect(asked.some((a) => a.operation === 'RecordHazardDutyCheck')).toBe(false)
    fill('textarea[name="findings"]', '  安全阀、液位计完好  ')
    await submit('form.people__form')
    const sent = asked.find((a) => a.operation === 'RecordHazardDutyCheck')!
    expect(sent.variables).toMatchObject({ unitId: 'u1', role: 'TECHNICAL', findings: '安全阀、液位计完好' })
    expect(document.body.textContent).toContain('技术负责人上次检查：2026-12-02')
    expect(document.body.textContent).not.toContain('技术负责人检查已逾期')
  })
})
