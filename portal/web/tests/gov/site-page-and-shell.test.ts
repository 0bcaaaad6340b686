// A site as a regulator sees it, and the portal's menu by role and by divisions regulated.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Component } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'

import type { GovSiteData } from '@/gov/api'
import GovShell from '@/gov/components/GovShell.vue'
import SitePage from '@/gov/pages/SitePage.vue'
import { createPortalI18n } from '@/shared/i18n'
import type { Membership } from '@/shared/session/portal'
import { useSessionStore } from '@/shared/session/store'

import { graphqlFetch } from '../app/graphql-mock'

const NAMES: Record<string, string> = { '320000': '江苏省', '320100': '南京市', '320102': '玄武区', '320500': '苏州市' }

const SITE: GovSiteData = {
  site: {
    id: 'site-1',
    name: '东江一号厂区',
    divisionCode: '320102',
    majorHazardGrade: 3,
    tenant: { name: '东江精细化工有限公司' },
    sensors: [
      { id: 's1', code: 'DJ-GT-102', kind: 'combustible_gas', unit: '%LEL', zone: '东江罐区', latest: { ts: '2026-12-02T08:00:00Z', value: 30 } },
      { id: 's2', code: 'DJ-PT-301', kind: 'pressure', unit: 'kPa', zone: null, latest: null },
    ],
  },
  alarms: [{ id: 'a1', severity: 'ORANGE', status: 'ACTIVE_UNACKNOWLEDGED', raisedAt: '2026-12-02T08:00:00Z', sensor: { code: 'DJ-GT-102' }, supervisions: [] }],
  hazardUnits: [
    {
      id: 'h1',
      name: '东江液氯储罐区',
      rValue: 32,
      grade: 3,
      isMajorHazard: true,
      substances: [{ name: '氯', casNumber: '7782-50-5', category: null, quantityTonnes: 20 }],
      responsibles: [
        { role: 'MAIN', assignedAt: '2026-11-01T00:00:00Z', worker: { id: 'w1', name: '王建国', mobile: '13912340001' } },
        { role: 'TECHNICAL', assignedAt: '2026-11-01T00:00:00Z', worker: { id: 'w2', name: '李工程', mobile: '13912340002' } },
      ],
      lastTechnicalCheckAt: '2026-08-01',
      technicalCheckOverdue: true,
    },
  ],
  hazardUnitChanges: [
    {
      id: '12',
      at: '2026-11-02T02:00:00Z',
      kind: 'UPDATED',
      unitId: 'h1',
      unitName: '东江液氯储罐区',
      gradeBefore: 4,
      gradeAfter: 3,
      responsibleRole: null,
      responsible: null,
    },
    {
      id: '11',
      at: '2026-11-01T02:00:00Z',
      kind: 'RESPONSIBLE_ASSIGNED',
      unitId: 'h1',
      unitName: '东江液氯储罐区',
      gradeBefore: null,
      gradeAfter: null,
      responsibleRole: 'TECHNICAL',
      responsible: { id: 'w2', name: '李工程', mobile: '13912340002' },
    },
  ],
  rectificationNotices: [
    {
      id: 'n1',
      number: '南京市应急整改〔2026〕3号',
      status: 'ISSUED',
      overdue: true,
      deadline: '2026-12-01T15:59:59Z',
      issuedAt: '2026-11-20T02:00:00Z',
      receivedAt: null,
      site: { id: 'site-1', name: '东江一号厂区', divisionCode: '320102', tenantId: 't1', tenant: { name: '东江精细化工有限公司' } },
    },
  ],
  inspections: [
    {
      id: 'i1',
      inspectedOn: '2026-11-18',
      divisionCode: '320100',
      createdAt: '2026-11-18T06:00:00Z',
      site: { id: 'site-1', name: '东江一号厂区', divisionCode: '320102', tenant: { name: '东江精细化工有限公司' } },
      findings: [{ finding: '防爆灯具损坏', basis: null }],
      notice: { id: 'n1', number: '南京市应急整改〔2026〕3号', status: 'ISSUED' },
    },
  ],
}

const names = (variables: Record<string, unknown>) => ({
  data: Object.fromEntries(
    Object.entries(variables).map(([key, code]) => [key.replace('c', 'd'), { divisionCode: code, name: NAMES[String(code)] }]),
  ),
})

async function mountAt(component: Component, path: string, memberships: Membership[]) {
  const pinia = createPinia()
  setActivePinia(pinia)
  useSessionStore().me = { email: 'someone@example.cn', memberships }
  const stub = { render: () => 'page' }
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'home', component: stub },
      { path: '/divisions/:code', name: 'division', component: stub },
      { path: '/sites/:id', name: 'site', component: stub },
      { path: '/alarms', name: 'alarms', component: stub },
      { path: '/reports', name: 'reports', component: stub },
      { path: '/rankings', name: 'rankings', component: stub },
      { path: '/quality', name: 'quality', component: stub },
      { path: '/notices', name: 'notices', component: stub },
      { path: '/supervisions', name: 'supervisions', component: stub },
      { path: '/notices/:id', name: 'notice', component: stub },
      { path: '/inspections', name: 'inspections', component: stub },
      { path: '/inspections/:id', name: 'inspection', component: stub },
    ],
  })
  await router.push(path)
  const wrapper = mount(component, { global: { plugins: [pinia, createPortalI18n('zh-CN'), router] } })
  for (let i = 0; i < 5; i++) await flushPromises()
  return wrapper
}

afterEach(() => vi.unstubAllGlobals())

describe('SitePage', () => {
  it('shows the enterprise, the latest readings, the active alarms and the hazard register', async () => {
    const { asked } = graphqlFetch({ GovSite: { data: SITE }, GovDivisionNames: names })
    const wrapper = await mountAt(SitePage, '/sites/site-1', [{ domain: 'gov:320100', role: 'inspector' }])
    expect(asked[0]!.variables).toMatchObject({ id: 'site-1' })
    expect(wrapper.find('h1').text()).toBe('东江一号厂区')
    const text = wrapper.text()
    expect(text).toContain('东江精细化工有限公司')
    expect(text).toContain('30 %LEL')
    expect(text).toContain('可燃气体 · 东江罐区')
    expect(text).toContain('尚无数据')
    expect(text).toContain('橙色报警')
    expect(text).toContain('未确认')
    expect(text).toContain('R = 32.0')
    expect(text).toContain('III 级重大危险源')
    expect(text).toContain('7782-50-5')
    expect(text).toContain('主要负责人王建国 · 13912340001')
    expect(text).toContain('操作负责人未指定')
    expect(text).toContain('技术负责人检查已逾期')
    expect(text).toContain('技术负责人上次检查：2026-08-01')
    expect(wrapper.find('a[href="tel:13912340002"]').exists()).toBe(true)
    expect(text).toContain('修改 东江液氯储罐区：IV 级重大危险源 → III 级重大危险源')
    expect(text).toContain('东江液氯储罐区的技术负责人指定为 李工程')
    expect(text).toContain('南京市应急整改〔2026〕3号')
    expect(text).toContain('待整改')
    expect(text).toContain('已逾期')
    expect(text).toContain('未签收')
    expect(wrapper.find('a[href="/notices/n1"]').exists()).toBe(true)
    expect(wrapper.findAll('button').map((b) => b.text())).toContain('下发整改通知')
    const inspections = wrapper.find('table[aria-label="检查记录"]')
    expect(inspections.text()).toContain('2026-11-18')
    expect(inspections.text()).toContain('1 项问题')
    expect(inspections.find('a[href="/inspections/i1"]').exists()).toBe(true)
    expect(inspections.find('a[href="/notices/n1"]').exists()).toBe(true)
    expect(wrapper.findAll('button').map((b) => b.text())).toContain('记录检查')
    expect(asked[0]!.variables).toMatchObject({ inspectionLimit: 20 })
    expect(wrapper.find('button[aria-label="督办 DJ-GT-102 的报警"]').exists()).toBe(true)
    expect(wrapper.findAll('.crumbs__item').map((c) => c.text())).toEqual(['南京市', '玄武区', '东江一号厂区'])
  })

  it('lets an analyst read the notices but not issue one', async () => {
    graphqlFetch({ GovSite: { data: SITE }, GovDivisionNames: names })
    const wrapper = await mountAt(SitePage, '/sites/site-1', [{ domain: 'gov:320100', role: 'analyst' }])
    expect(wrapper.text()).toContain('南京市应急整改〔2026〕3号')
    expect(wrapper.findAll('button').map((b) => b.text())).not.toContain('下发整改通知')
    expect(wrapper.find('table[aria-label="检查记录"]').text()).toContain('2026-11-18')
    expect(wrapper.findAll('button').map((b) => b.text())).not.toContain('记录检查')
    expect(wrapper.find('button[aria-label="督办 DJ-GT-102 的报警"]').exists()).toBe(false)
  })

  it('says a site outside the jurisdiction is not found, and shows nothing of it', async () => {
    graphqlFetch({ GovSite: { data: null, errors: [{ message: 'site not found', extensions: { code: 'NOT_FOUND' } }] } })
    const wrapper = await mountAt(SitePage, '/sites/elsewhere', [{ domain: 'gov:320100', role: 'analyst' }])
    expect(wrapper.text()).toContain('该厂区不存在或不在您的辖区内')
    expect(wrapper.find('h1').exists()).toBe(false)
  })
})

describe('GovShell', () => {
  it('gives each government role the overview and names the role', async () => {
    const wrapper = await mountAt(GovShell, '/', [{ domain: 'gov:320100', role: 'inspector' }])
    expect(wrapper.findAll('nav a').map((a) => a.text())).toEqual(['一张图', '辖区报警', '举报处理', '企业排名', '数据质量', '检查记录', '整改通知', '督办'])
    expect(wrapper.text()).toContain('执法检查员')
  })

  it('gives an enterprise role no government page', async () => {
    const wrapper = await mountAt(GovShell, '/', [{ domain: 'tenant:a0000000-0000-4000-8000-000000000001', role: 'owner' }])
    expect(wrapper.findAll('nav a')).toHaveLength(0)
    expect(wrapper.text()).toContain('您没有政府端角色')
  })

  it('lists the further divisions of someone regulating several, named by the server', async () => {
    graphqlFetch({ GovDivisionNames: names })
    const wrapper = await mountAt(GovShell, '/', [
      { domain: 'gov:320100', role: 'director' },
      { domain: 'gov:320500', role: 'analyst' },
    ])
    const links = wrapper.findAll('nav a')
    expect(links.map((a) => a.text())).toEqual(['一张图', '辖区报警', '举报处理', '企业排名', '数据质量', '检查记录', '整改通知', '督办', '苏州市'])
    expect(links[8]!.attributes('href')).toBe('/divisions/320500')
  })
})
