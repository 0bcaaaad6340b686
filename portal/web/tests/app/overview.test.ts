// The overview of a site: tiles grouped by zone and coloured by state, counts and online rate
// from one answer; and the page that shows it, from one request per refresh.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'

import type { OverviewData, OverviewSensor } from '@/app/api'
import { buildOverview } from '@/app/logic/overview'
import OverviewPage from '@/app/pages/OverviewPage.vue'
import { useSitesStore } from '@/app/stores/sites'
import { createPortalI18n } from '@/shared/i18n'

import { graphqlFetch } from './graphql-mock'

const asOf = '2026-12-02T12:00:00.000Z'
const ago = (s: number) => new Date(Date.parse(asOf) - s * 1000).toISOString()

function sensor(id: string, zone: string | null, latestAgo: number | null, code = id): OverviewSensor {
  return {
    id,
    code,
    kind: 'combustible_gas',
    unit: '%LEL',
    zone,
    latest: latestAgo === null ? null : { ts: ago(latestAgo), value: 12.345 },
  }
}

function answer(sensors: OverviewSensor[], alarms: OverviewData['alarms'] = []): OverviewData {
  return {
    site: { id: 'site-1', name: '一号厂区', sensors },
    siteStatus: { asOf, offlineAfterSeconds: 300 },
    alarms,
  }
}

describe('buildOverview', () => {
  it('groups by zone (unplaced last), colours by state and counts', () => {
    const data = answer(
      [sensor('s3', null, 5), sensor('s1', '罐区', 5), sensor('s2', '罐区', 900), sensor('s4', '装卸区', 5)],
      [
        { id: 'a1', severity: 'RED', status: 'ACTIVE_UNACKNOWLEDGED', acknowledged: false, sensor: { id: 's1' } },
        { id: 'a2', severity: 'YELLOW', status: 'ACKNOWLEDGED', acknowledged: true, sensor: { id: 's1' } },
        { id: 'a3', severity: 'YELLOW', status: 'ACKNOWLEDGED', acknowledged: true, sensor: null },
      ],
    )
    // The browser's clock is a day off; the server's asOf decides what is stale.
    const overview = buildOverview(data, Date.parse(asOf) + 86_400_000)
    // The zone in alarm first, then by name, unplaced sensors last.
    expect(overview.zones.map((z) => z.zone)).toEqual(['罐区', '装卸区', null])
    const later = buildOverview(
      answer([sensor('s1', '甲区', 5), sensor('s2', '乙区', 5), sensor('s3', '丙区', 5)], [
        { id: 'a1', severity: 'YELLOW', status: 'ACKNOWLEDGED', acknowledged: true, sensor: { id: 's3' } },
        { id: 'a2', severity: 'RED', status: 'ACKNOWLEDGED', acknowledged: true, sensor: { id: 's2' } },
      ]),
      Date.parse(asOf),
    )
    expect(later.zones.map((z) => z.zone)).toEqual(['乙区', '丙区', '甲区'])
    expect(overview.zones[0]!.sensors.map((s) => [s.id, s.state])).toEqual([
      ['s1', 'RED'],
      ['s2', 'offline'],
    ])
    expect(overview.alarmCounts).toEqual({ RED: 1, ORANGE: 0, YELLOW: 2, BLUE: 0 })
    expect(overview.onlineRate).toBe(0.75)
    expect(overview.offlineCount).toBe(1)
  })
})

afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
  document.body.innerHTML = ''
})

async function mountOverview() {
  const pinia = createPinia()
  setActivePinia(pinia)
  const sites = useSitesStore()
  sites.sites = [{ id: 'site-1', name: '一号厂区', tenantId: 't1' }]
  sites.loaded = true
  sites.selectedId = 'site-1'
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'home', component: OverviewPage },
      { path: '/sensors/:id?', name: 'sensor-history', component: { render: () => 'chart' } },
      { path: '/alarms', name: 'alarms', component: { render: () => 'alarms' } },
    ],
  })
  await router.push('/')
  const wrapper = mount(OverviewPage, { global: { plugins: [pinia, createPortalI18n('zh-CN'), router] } })
  await flushPromises()
  return wrapper
}

describe('OverviewPage', () => {
  it('shows 600 sensors from a single request, coloured and grouped', async () => {
    const sensors = Array.from({ length: 600 }, (_, i) => sensor(`s${i}`, `区域${i % 6}`, i === 0 ? null : 5, `GT-${String(i).padStart(3, '0')}`))
    const { asked } = graphqlFetch({
      ConsoleOverview: {
        data: answer(sensors, [
          { id: 'a1', severity: 'RED', status: 'ACTIVE_UNACKNOWLEDGED', acknowledged: false, sensor: { id: 's6' } },
        ]),
      },
    })
    const wrapper = await mountOverview()
    expect(asked.map((a) => a.operation)).toEqual(['ConsoleOverview'])
    expect(asked[0]!.variables).toMatchObject({ siteId: 'site-1' })
    expect(wrapper.findAll('li.tile')).toHaveLength(600)
    expect(wrapper.findAll('section.zone')).toHaveLength(6)
    expect(wrapper.findAll('li.tile--RED')).toHaveLength(1)
    expect(wrapper.findAll('li.tile--offline')).toHaveLength(1)
    const red = wrapper.find('li.tile--RED a')
    for (const part of ['GT-006', '红色报警', '12.35', '%LEL', '可燃气体']) expect(red.text()).toContain(part)
    expect(wrapper.text()).toContain('在线率')
    expect(wrapper.text()).toContain('99.8%')
  })

  it('asks again within five seconds', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true })
    const { asked } = graphqlFetch({ ConsoleOverview: { data: answer([sensor('s1', '罐区', 5)]) } })
    await mountOverview()
    expect(asked).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(5000)
    await flushPromises()
    expect(asked.length).toBeGreaterThanOrEqual(2)
  })
})
