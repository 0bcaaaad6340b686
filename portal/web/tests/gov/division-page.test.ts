// 一张图 as a page: the division's figures, its children as coloured tiles, its sites by risk,
// the breadcrumb named from the server's answers, and paging through the sites.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'

import type { DivisionFigures, SiteRisk } from '@/gov/api'
import DivisionPage from '@/gov/pages/DivisionPage.vue'
import { createPortalI18n } from '@/shared/i18n'
import { useSessionStore } from '@/shared/session/store'

import { graphqlFetch } from '../app/graphql-mock'

const NAMES: Record<string, string> = { '320000': '江苏省', '320100': '南京市', '320102': '玄武区', '320104': '秦淮区' }

function figures(code: string, over: Partial<DivisionFigures> = {}): DivisionFigures {
  return {
    divisionCode: code,
    name: NAMES[code]!,
    enterprises: 1,
    sites: 1,
    majorHazardSources: 1,
    onlineRate: 0.755,
    activeAlarms: [
      { severity: 'RED', count: 0 },
      { severity: 'ORANGE', count: 2 },
      { severity: 'YELLOW', count: 0 },
      { severity: 'BLUE', count: 0 },
    ],
    majorHazardSourcesByGrade: [
      { grade: 1, count: 0 },
      { grade: 2, count: 1 },
      { grade: 3, count: 0 },
      { grade: 4, count: 0 },
    ],
    overdueUnacknowledged: 1,
    overdueNotices: 2,
    riskColor: 'ORANGE',
    ...over,
  }
}

function risk(i: number): SiteRisk {
  return {
    site: { id: `site-${i}`, name: `厂区${i}`, divisionCode: '320102', tenant: { name: `企业${i}` } },
    riskColor: i === 0 ? 'RED' : 'BLUE',
    onlineRate: i === 0 ? 1 : null,
    activeAlarmCount: i === 0 ? 3 : 0,
    majorHazardGrade: i === 0 ? 3 : null,
  }
}

const CHILDREN: Record<string, DivisionFigures[]> = {
  '320100': [
    figures('320102'),
    figures('320104', { sites: 0, enterprises: 0, majorHazardSources: 0, onlineRate: null, riskColor: null }),
  ],
  '320102': [],
}

async function mountAt(path: string, governed: string, risks: SiteRisk[] = [risk(0)], notFound = false) {
  const mock = graphqlFetch({
    GovOverview: (variables) => {
      if (notFound) return { data: null, errors: [{ message: 'division not found', extensions: { code: 'NOT_FOUND' } }] }
      const code = String(variables.code)
      const after = variables.after
      const start = after ? risks.findIndex((r) => r.site.id === after) + 1 : 0
      return {
        data: {
          jurisdiction: { ...figures(code), children: CHILDREN[code] ?? [] },
          siteRisks: risks.slice(start, start + Number(variables.first)),
        },
      }
    },
    GovOnlineRateHistory: () => ({
      data: {
        onlineRateHistory: [
          { day: '2026-12-01', rate: 1 },
          { day: '2026-12-02', rate: 0.9 },
          { day: '2026-12-03', rate: null },
        ],
      },
    }),
    GovDivisionNames: (variables) => ({
      data: Object.fromEntries(
        Object.entries(variables).map(([key, code]) => [key.replace('c', 'd'), { divisionCode: code, name: NAMES[String(code)] }]),
      ),
    }),
  })
  const pinia = createPinia()
  setActivePinia(pinia)
  useSessionStore().me = { email: 'director@example.cn', memberships: [{ domain: `gov:${governed}`, role: 'director' }] }
  const stub = { render: () => 'page' }
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'home', component: DivisionPage },
      { path: '/divisions/:code', name: 'division', component: DivisionPage },
      { path: '/sites/:id', name: 'site', component: stub },
    ],
  })
  await router.push(path)
  const wrapper = mount(DivisionPage, { global: { plugins: [pinia, createPortalI18n('zh-CN'), router] } })
  for (let i = 0; i < 5; i++) await flushPromises()
  return { wrapper, asked: mock.asked }
}

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('DivisionPage', () => {
  it('shows the own division with its figures, tiles coloured by risk and the sites', async () => {
    const { wrapper, asked } = await mountAt('/', '320100')
    expect(asked[0]!.variables).toMatchObject({ code: '320100', first: 21, after: null })
    expect(wrapper.find('h1').text()).toBe('一张图 · 南京市')
    const text = wrapper.text()
    expect(text).toContain('75.5%')
    expect(text).toContain('橙色报警2')
    expect(text).toContain('超时未确认报警1')
    expect(text).toContain('逾期整改通知2')
    expect(text).toContain('II 级危险源1')
    // The 30-day trend: of the two days with a rate, one is below 99.5 %.
    expect(asked.some((a) => a.operation === 'GovOnlineRateHistory' && a.variables.code === '320100')).toBe(true)
    expect(text).toContain('2 天中有 1 天低于 99.5%')
    const tiles = wrapper.findAll('.tile')
    expect(tiles.map((t) => t.classes().find((c) => c.startsWith('risk--')))).toEqual(['risk--orange', 'risk--none'])
    expect(tiles[1]!.text()).toContain('无厂区')
    expect(tiles[0]!.text()).toContain('75.5%')
    expect(tiles[1]!.find('dl').exists()).toBe(false)
    expect(wrapper.find('.tile a').attributes('href')).toBe('/divisions/320102')
    const row = wrapper.find('.risk-row')
    expect(row.classes()).toContain('risk--red')
    expect(row.text()).toContain('企业0')
    expect(row.text()).toContain('100.0%')
    expect(row.text()).toContain('III')
    expect(row.find('a').attributes('href')).toBe('/sites/site-0')
  })

  it('names the breadcrumb from the answers, asking for the ancestors it has not seen', async () => {
    const { wrapper, asked } = await mountAt('/divisions/320102', '320000')
    const crumbs = wrapper.findAll('.crumbs__item').map((c) => c.text())
    expect(crumbs).toEqual(['江苏省', '南京市', '玄武区'])
    const names = asked.find((a) => a.operation === 'GovDivisionNames')
    expect(Object.values(names!.variables).sort()).toEqual(['320000', '320100'])
    // The levels above link back up: the own division is home.
    const links = wrapper.findAll('.crumbs__item a').map((a) => a.attributes('href'))
    expect(links).toEqual(['/', '/divisions/320100'])
    expect(wrapper.text()).toContain('没有下级区划')
  })

  it('pages through the sites with first and after', async () => {
    const risks = Array.from({ length: 25 }, (_, i) => risk(i))
    const { wrapper, asked } = await mountAt('/', '320100', risks)
    expect(wrapper.findAll('.risk-row')).toHaveLength(20)
    const next = wrapper.findAll('button').find((b) => b.text() === '下一页')!
    await next.trigger('click')
    for (let i = 0; i < 5; i++) await flushPromises()
    expect(asked.at(-1)!.variables).toMatchObject({ after: 'site-19', first: 21 })
    expect(wrapper.findAll('.risk-row')).toHaveLength(5)
    expect(wrapper.text()).toContain('第 2 页')
  })

  it('says so for a division outside the jurisdiction, with no way up to it', async () => {
    const { wrapper } = await mountAt('/divisions/320508', '320100', [], true)
    expect(wrapper.text()).toContain('该区划不存在或不在您的辖区内')
    expect(wrapper.findAll('.crumbs__item')).toHaveLength(0)
    expect(wrapper.findAll('.tile')).toHaveLength(0)
  })
})
