// The inspection pages as each government role sees them: the list filtered by division and
// day (a director or inspector may record one, an analyst only reads), and an inspection that
// a director or inspector turns into a rectification notice.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Component } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'

import InspectionDetailPage from '@/gov/pages/InspectionDetailPage.vue'
import InspectionsPage from '@/gov/pages/InspectionsPage.vue'
import { createPortalI18n } from '@/shared/i18n'
import type { Inspection } from '@/shared/inspections/api'
import type { Membership } from '@/shared/session/portal'
import { useSessionStore } from '@/shared/session/store'

import { graphqlFetch } from '../app/graphql-mock'

const INSPECTION: Inspection = {
  id: 'i1',
  inspectedOn: '2026-11-18',
  divisionCode: '320100',
  createdAt: '2026-11-18T06:00:00Z',
  site: { id: 'site-1', name: '东江一号厂区', divisionCode: '320102', tenant: { name: '东江精细化工有限公司' } },
  inspectors: [{ kind: 'USER', name: '王检查', email: null }],
  findings: [{ finding: '防爆灯具损坏', basis: 'GB 50058-2014' }],
  notice: null,
  summary: '检查储罐区。',
  createdBy: { kind: 'USER', name: '王检查', email: null },
}
const SITES = { data: { siteRisks: [{ site: { id: 'site-1', name: '东江一号厂区', tenant: { name: '东江精细化工有限公司' } } }] } }
const DIVISIONS = { data: { jurisdiction: { divisionCode: '320100', name: '南京市', children: [{ divisionCode: '320102', name: '玄武区' }] } } }

async function mountAt(component: Component, path: string, memberships: Membership[]) {
  const pinia = createPinia()
  setActivePinia(pinia)
  useSessionStore().me = { email: 'someone@example.cn', memberships }
  const stub = { render: () => 'page' }
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/sites/:id', name: 'site', component: stub },
      { path: '/notices/:id', name: 'notice', component: stub },
      { path: '/inspections', name: 'inspections', component: stub },
      { path: '/inspections/:id', name: 'inspection', component: stub },
    ],
  })
  await router.push(path)
  const wrapper = mount(component, { global: { plugins: [pinia, createPortalI18n('zh-CN'), router] }, attachTo: document.body })
  for (let i = 0; i < 5; i++) await flushPromises()
  return { wrapper, router }
}

const buttons = (wrapper: { findAll: (s: string) => { text: () => string }[] }) => wrapper.findAll('button').map((b) => b.text())

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('InspectionsPage', () => {
  it('lists the jurisdiction, filters by division and day, and lets an inspector record', async () => {
    const { asked } = graphqlFetch({ GovDivisionOptions: DIVISIONS, GovSiteOptions: SITES, Inspections: { data: { inspections: [INSPECTION] } } })
    const { wrapper } = await mountAt(InspectionsPage, '/inspections', [{ domain: 'gov:320100', role: 'inspector' }])
    const table = wrapper.find('table[aria-label="检查记录列表"]')
    expect(table.text()).toContain('东江一号厂区')
    expect(table.text()).toContain('未下发整改通知')
    expect(table.find('a[href="/inspections/i1"]').exists()).toBe(true)
    expect(buttons(wrapper)).toContain('记录检查')
    expect(wrapper.findAll('select[name="division"] option').map((o) => o.text())).toEqual(['全部辖区', '南京市', '— 玄武区'])

    await wrapper.find('select[name="division"]').setValue('320102')
    await wrapper.find('input[name="from"]').setValue('2026-11-01')
    await wrapper.find('input[name="to"]').setValue('2026-11-30')
    await flushPromises()
    const last = asked.filter((a) => a.operation === 'Inspections').at(-1)!
    expect(last.variables).toMatchObject({ divisionCode: '320102', from: '2026-11-01', to: '2026-11-30', first: 21, after: null })
    expect(wrapper.findAll('select[name="site"] option').map((o) => o.text())).toEqual(['全部厂区', '东江一号厂区'])
    await wrapper.find('select[name="site"]').setValue('site-1')
    await flushPromises()
    expect(asked.filter((a) => a.operation === 'Inspections').at(-1)!.variables).toMatchObject({ siteId: 'site-1', divisionCode: '320102' })

    // A range that ends before it starts is said, and not asked.
    const before = asked.length
    await wrapper.find('input[name="from"]').setValue('2026-12-01')
    await flushPromises()
    expect(wrapper.text()).toContain('开始日期不能晚于结束日期。')
    expect(asked.length).toBe(before)
  })

  it('gives an analyst the list, of the site the address names, without a way to record', async () => {
    const { asked } = graphqlFetch({ GovDivisionOptions: DIVISIONS, GovSiteOptions: SITES, Inspections: { data: { inspections: [INSPECTION] } } })
    const { wrapper } = await mountAt(InspectionsPage, '/inspections?site=site-1', [{ domain: 'gov:320100', role: 'analyst' }])
    expect(wrapper.text()).toContain('东江一号厂区')
    expect(asked.find((a) => a.operation === 'Inspections')!.variables).toMatchObject({ siteId: 'site-1' })
    expect(buttons(wrapper)).not.toContain('记录检查')
  })
})

describe('InspectionDetailPage', () => {
  it('turns an inspection into a notice, its items the findings, and opens the notice', async () => {
    const { asked } = graphqlFetch({
      Inspection: { data: { inspection: INSPECTION } },
      IssueNoticeFromInspection: { data: { issueNoticeFromInspection: { id: 'n9', number: '南京市应急整改〔2026〕9号' } } },
    })
    const { wrapper, router } = await mountAt(InspectionDetailPage, '/inspections/i1', [{ domain: 'gov:320100', role: 'inspector' }])
    expect(wrapper.find('h1').text()).toBe('检查记录 2026-11-18')
    expect(wrapper.text()).toContain('依据：GB 50058-2014')
    expect(wrapper.text()).toContain('王检查')
    await wrapper.findAll('button').find((b) => b.text() === '转为整改通知')!.trigger('click')
    await vi.waitFor(() => {
      if (!document.querySelector('.el-dialog input[name="deadline"]')) throw new Error('no dialog')
    })
    const dialog = document.querySelector('.el-dialog')!
    expect(dialog.textContent).toContain('防爆灯具损坏')
    ;(dialog.querySelector('button[type="submit"]') as HTMLButtonElement).click()
    await vi.waitFor(() => expect(router.currentRoute.value.fullPath).toBe('/notices/n9'))
    const issued = asked.find((a) => a.operation === 'IssueNoticeFromInspection')!
    expect(issued.variables.id).toBe('i1')
    expect(new Date(String(issued.variables.deadline)).getTime()).toBeGreaterThan(Date.now())
  })

  it('links the notice once issued, with nothing more to issue', async () => {
    const linked = { ...INSPECTION, notice: { id: 'n1', number: '南京市应急整改〔2026〕3号', status: 'ISSUED' as const } }
    graphqlFetch({ Inspection: { data: { inspection: linked } } })
    const { wrapper } = await mountAt(InspectionDetailPage, '/inspections/i1', [{ domain: 'gov:320100', role: 'director' }])
    expect(wrapper.find('a[href="/notices/n1"]').text()).toBe('南京市应急整改〔2026〕3号')
    expect(buttons(wrapper)).not.toContain('转为整改通知')
  })

  it('gives an analyst nothing to issue, and says an inspection outside is not found', async () => {
    graphqlFetch({ Inspection: { data: { inspection: INSPECTION } } })
    const { wrapper } = await mountAt(InspectionDetailPage, '/inspections/i1', [{ domain: 'gov:320100', role: 'analyst' }])
    expect(wrapper.text()).toContain('防爆灯具损坏')
    expect(buttons(wrapper)).not.toContain('转为整改通知')
    vi.unstubAllGlobals()
    graphqlFetch({ Inspection: { data: null, errors: [{ message: 'inspection not found', extensions: { code: 'NOT_FOUND' } }] } })
    const other = await mountAt(InspectionDetailPage, '/inspections/elsewhere', [{ domain: 'gov:320100', role: 'analyst' }])
    expect(other.wrapper.text()).toContain('该检查记录不存在或不在您的辖区内')
    expect(other.wrapper.find('h1').exists()).toBe(false)
  })
})
