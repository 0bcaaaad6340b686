// The console's notices page: below the notices, the regulators' inspections of the
// enterprise's sites, read-only, each with the notice issued from it.
import { afterEach, describe, expect, it, vi } from 'vitest'

import InspectionDetailPage from '@/app/pages/InspectionDetailPage.vue'
import NoticesPage from '@/app/pages/NoticesPage.vue'
import type { Inspection } from '@/shared/inspections/api'

import { graphqlFetch } from './graphql-mock'
import { mountPage, settle } from './page-harness'

const INSPECTION: Inspection = {
  id: 'i1',
  inspectedOn: '2026-11-18',
  divisionCode: '320100',
  createdAt: '2026-11-18T06:00:00Z',
  site: { id: 'site-1', name: '一号厂区', divisionCode: '320102', tenant: { name: '东江精细化工有限公司' } },
  findings: [{ finding: '防爆灯具损坏', basis: 'GB 50058-2014' }],
  notice: { id: 'n1', number: '南京市应急整改〔2026〕3号', status: 'ISSUED' },
  inspectors: [{ kind: 'USER', name: null, email: 'inspector@nanjing.gov.example.cn' }],
  summary: '检查储罐区。',
  createdBy: { kind: 'USER', name: null, email: 'inspector@nanjing.gov.example.cn' },
}

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('the console notices page', () => {
  it('lists the inspections with the notice each issued, and nothing to act on', async () => {
    const { asked } = graphqlFetch({
      Notices: { data: { rectificationNotices: [] } },
      Inspections: { data: { inspections: [INSPECTION, { ...INSPECTION, id: 'i2', findings: [], notice: null }] } },
    })
    const { wrapper } = await mountPage(NoticesPage, 'viewer', '/notices')
    await settle()
    const table = wrapper.find('table[aria-label="检查记录列表"]')
    expect(table.findAll('tbody tr')).toHaveLength(2)
    expect(table.find('a[href="/inspections/i1"]').text()).toBe('2026-11-18')
    expect(table.find('a[href="/notices/n1"]').text()).toBe('南京市应急整改〔2026〕3号')
    expect(table.text()).toContain('未发现问题')
    expect(table.text()).toContain('未下发整改通知')
    expect(wrapper.findAll('button')).toHaveLength(0)
    expect(asked.find((a) => a.operation === 'Inspections')!.variables).toMatchObject({ first: 20 })
  })

  it('says when the enterprise has no inspections', async () => {
    graphqlFetch({ Notices: { data: { rectificationNotices: [] } }, Inspections: { data: { inspections: [] } } })
    const { wrapper } = await mountPage(NoticesPage, 'owner', '/notices')
    await settle()
    expect(wrapper.text()).toContain('本企业没有检查记录。')
  })
})

describe('the console inspection page', () => {
  it('shows the findings and links the notice', async () => {
    graphqlFetch({ Inspection: { data: { inspection: INSPECTION } } })
    const { wrapper } = await mountPage(InspectionDetailPage, 'viewer', '/inspections/i1')
    await settle()
    expect(wrapper.find('h1').text()).toBe('检查记录 2026-11-18')
    expect(wrapper.text()).toContain('依据：GB 50058-2014')
    expect(wrapper.text()).toContain('inspector@nanjing.gov.example.cn')
    expect(wrapper.find('a[href="/notices/n1"]').exists()).toBe(true)
  })

  it('says an inspection of another enterprise does not exist', async () => {
    graphqlFetch({ Inspection: { data: null, errors: [{ message: 'inspection not found', extensions: { code: 'NOT_FOUND' } }] } })
    const { wrapper } = await mountPage(InspectionDetailPage, 'viewer', '/inspections/elsewhere')
    await settle()
    expect(wrapper.text()).toContain('该检查记录不存在。')
    expect(wrapper.find('h1').exists()).toBe(false)
  })
})
