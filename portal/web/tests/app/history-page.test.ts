// The history page asks for the chosen range with a bucket that keeps it under ~1,500 points,
// draws the threshold setpoints, and exports the buckets shown as CSV with a BOM.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'

import SensorHistoryPage from '@/app/pages/SensorHistoryPage.vue'
import { createPortalI18n } from '@/shared/i18n'

import { graphqlFetch } from './graphql-mock'

// ECharts needs a canvas jsdom does not have; the page's own logic is what is tested here.
const drawn: unknown[] = []
vi.mock('@/shared/charts/ChartPanel.vue', () => ({
  __esModule: true,
  default: defineComponent({
    props: { option: { type: Object, required: true }, label: String, loading: Boolean, height: String },
    setup(props) {
      return () => {
        drawn.push(props.option)
        return h('figure', { role: 'img', 'aria-label': props.label })
      }
    },
  }),
}))

const SENSOR = { id: 'sensor-1', code: 'GT-101', kind: 'combustible_gas', unit: '%LEL', zone: '罐区A' }

afterEach(() => {
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
  document.body.innerHTML = ''
  drawn.length = 0
})

async function mountHistory(path: string) {
  const pinia = createPinia()
  setActivePinia(pinia)
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [{ path: '/sensors/:id?', name: 'sensor-history', component: SensorHistoryPage }],
  })
  await router.push(path)
  const wrapper = mount(SensorHistoryPage, { global: { plugins: [pinia, createPortalI18n('zh-CN'), router] }, attachTo: document.body })
  await flushPromises()
  await flushPromises()
  return { wrapper, router }
}

describe('SensorHistoryPage', () => {
  it('asks for the range with its bucket and draws the threshold setpoints only', async () => {
    const { asked } = graphqlFetch({
      ConsoleHistorySensors: { data: { sites: [{ id: 'site-1', name: '一号厂区', sensors: [SENSOR] }] } },
      ConsoleTelemetry: {
        data: {
          telemetry: [
            { ts: '2026-12-02T12:00:00.000Z', min: 1, max: 3, avg: 2, count: 60 },
            { ts: '2026-12-02T12:10:00.000Z', min: 2, max: 5, avg: 4, count: 60 },
          ],
        },
      },
      ConsoleSetpoints: {
        data: {
          alarmRules: [
            { kind: 'threshold', enabled: true, levels: [{ name: '一级', severity: 'ORANGE', setpoint: 25 }] },
            { kind: 'stale', enabled: true, levels: [{ name: 'no data', severity: 'YELLOW', setpoint: 120 }] },
          ],
        },
      },
    })
    const { wrapper } = await mountHistory('/sensors/sensor-1?range=7d')
    const telemetry = asked.find((a) => a.operation === 'ConsoleTelemetry')!
    expect(telemetry.variables).toMatchObject({ sensorId: 'sensor-1', bucketSeconds: 600 })
    const span = Date.parse(String(telemetry.variables.to)) - Date.parse(String(telemetry.variables.from))
    expect(span).toBe(7 * 86400 * 1000)
    expect(wrapper.text()).toContain('GT-101')
    expect(wrapper.text()).toContain('可燃气体')
    expect(wrapper.find('button[aria-pressed="true"]').text()).toBe('7 天')
    const option = drawn.at(-1) as { series: { markLine?: { data: { yAxis: number }[] } }[] }
    expect(option.series[2]!.markLine!.data.map((d) => d.yAxis)).toEqual([25])
  })

  it('exports the buckets as CSV with a BOM, in the browser', async () => {
    graphqlFetch({
      ConsoleHistorySensors: { data: { sites: [{ id: 'site-1', name: '一号厂区', sensors: [SENSOR] }] } },
      ConsoleTelemetry: { data: { telemetry: [{ ts: '2026-12-02T12:00:00.000Z', min: 1, max: 3, avg: 2, count: 60 }] } },
      ConsoleSetpoints: { data: { alarmRules: [] } },
    })
    const blobs: Blob[] = []
    vi.stubGlobal('URL', Object.assign(URL, {
      createObjectURL: (blob: Blob) => {
        blobs.push(blob)
        return 'blob:csv'
      },
      revokeObjectURL: () => {},
    }))
    const clicked: string[] = []
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this.download)
    })
    const { wrapper } = await mountHistory('/sensors/sensor-1?range=1h')
    const button = wrapper.findAll('button').find((b) => b.text() === '导出 CSV')!
    await button.trigger('click')
    expect(clicked).toHaveLength(1)
    expect(clicked[0]).toMatch(/^GT-101-1h-\d{12}\.csv$/)
    const bytes = new Uint8Array(await blobs[0]!.arrayBuffer())
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const text = new TextDecoder().decode(bytes.slice(3))
    expect(text.split('\r\n')[0]).toBe('时间（UTC）,时间（本地）,最小值,平均值,最大值,读数个数')
    expect(text.split('\r\n')[1]).toMatch(/^2026-12-02T12:00:00.000Z,.+,1,2,3,60$/)
  })

  it('says so for a sensor that is not the reader’s', async () => {
    const { asked } = graphqlFetch({
      ConsoleHistorySensors: { data: { sites: [{ id: 'site-1', name: '一号厂区', sensors: [SENSOR] }] } },
    })
    const { wrapper } = await mountHistory('/sensors/other-tenants-sensor')
    expect(wrapper.text()).toContain('找不到这个传感器，或您无权查看。')
    expect(asked.map((a) => a.operation)).toEqual(['ConsoleHistorySensors'])
  })
})
