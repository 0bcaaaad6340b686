// Permits and silences: listed for everyone; opened, closed, created and cancelled only by the
// roles that may; the overview shows those in force.
import { afterEach, describe, expect, it, vi } from 'vitest'

import OverviewPage from '@/app/pages/OverviewPage.vue'
import PermitsPage from '@/app/pages/PermitsPage.vue'
import type { PermitsData } from '@/app/queries/permits'

import { graphqlFetch } from './graphql-mock'
import { buttons, click, fill, gqlError, mountPage, settle, submit } from './page-harness'

afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
  document.body.innerHTML = ''
})

const future = new Date(Date.now() + 3_600_000).toISOString()

const DATA: { data: PermitsData } = {
  data: {
    site: { id: 'site-1', zones: [{ id: 'z1', name: '罐区' }], sensors: [{ id: 's1', code: 'GT-101' }] },
    workPermits: [
      { id: 'p1', siteId: 'site-1', zoneId: 'z1', kind: 'HOT_WORK', openedAt: '2026-12-02T08:00:00.000Z', expiresAt: future, closedAt: null, note: '焊接' },
    ],
    silences: [
      { id: 'q1', siteId: 'site-1', zoneId: null, sensorId: 's1', reason: '标定', startsAt: '2026-12-02T08:00:00.000Z', expiresAt: future, cancelledAt: null },
    ],
  },
}

describe('PermitsPage', () => {
  it('lists permits and silences for a viewer with no control to change them', async () => {
    graphqlFetch({ ConsolePermits: DATA })
    const { wrapper } = await mountPage(PermitsPage, 'viewer', '/permits')
    expect(wrapper.text()).toContain('动火作业 · 罐区')
    expect(wrapper.text()).toContain('GT-101')
    expect(wrapper.text()).toContain('标定')
    expect(wrapper.find('form').exists()).toBe(false)
    expect(buttons('关闭')).toHaveLength(0)
    expect(buttons('取消屏蔽')).toHaveLength(0)
  })

  it('opens a permit in a zone for a chosen time and closes one', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-02T12:00:00Z'), toFake: ['Date'] })
    const { asked } = graphqlFetch({
      ConsolePermits: DATA,
      OpenWorkPermit: { data: { openWorkPermit: DATA.data.workPermits[0] } },
      CloseWorkPermit: { data: { closeWorkPermit: DATA.data.workPermits[0] } },
    })
    const { wrapper } = await mountPage(PermitsPage, 'safety_manager', '/permits')
    await submit('.permit-form')
    expect(wrapper.text()).toContain('请选择区域。')
    fill('select[name="permit-zone"]', 'z1')
    fill('select[name="permit-kind"]', 'CONFINED_SPACE')
    fill('select[name="permit-hours"]', '4')
    fill('input[name="permit-note"]', '清罐')
    await submit('.permit-form')
    expect(asked.find((a) => a.operation === 'OpenWorkPermit')!.variables).toEqual({
      zoneId: 'z1',
      kind: 'CONFINED_SPACE',
      expiresAt: '2026-12-02T16:00:00.000Z',
      note: '清罐',
    })
    document.querySelector<HTMLButtonElement>('button[aria-label="关闭作业票 动火作业 罐区"]')!.click()
    await settle()
    expect(asked.find((a) => a.operation === 'CloseWorkPermit')!.variables).toEqual({ id: 'p1' })
  })

  it('silences a zone with a reason and an expiry, and cancels a silence', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-02T12:00:00Z'), toFake: ['Date'] })
    const { asked } = graphqlFetch({
      ConsolePermits: DATA,
      CreateSilence: { data: { createSilence: DATA.data.silences[0] } },
      CancelSilence: { data: { cancelSilence: DATA.data.silences[0] } },
    })
    const { wrapper } = await mountPage(PermitsPage, 'owner', '/permits')
    fill('select[name="silence-scope"]', 'zone:z1')
    await submit('.silence-form')
    expect(wrapper.text()).toContain('请填写屏蔽原因。')
    fill('input[name="silence-reason"]', '检修')
    await submit('.silence-form')
    expect(asked.find((a) => a.operation === 'CreateSilence')!.variables).toEqual({
      siteId: 'site-1',
      reason: '检修',
      expiresAt: '2026-12-02T14:00:00.000Z',
      zoneId: 'z1',
      sensorId: null,
    })
    await click('取消屏蔽')
    expect(asked.find((a) => a.operation === 'CancelSilence')!.variables).toEqual({ id: 'q1' })
  })

  it("shows the server's FORBIDDEN", async () => {
    graphqlFetch({ ConsolePermits: DATA, CancelSilence: gqlError('may not update alarm rules', 'FORBIDDEN') })
    await mountPage(PermitsPage, 'owner', '/permits')
    await click('取消屏蔽')
    expect(document.body.textContent).toContain('无权执行此操作：may not update alarm rules')
  })
})

describe('the overview', () => {
  it('shows the permits and silences in force, from its one request', async () => {
    const { asked } = graphqlFetch({
      ConsoleOverview: {
        data: {
          site: { id: 'site-1', name: '一号厂区', zones: [{ id: 'z1', name: '罐区' }], sensors: [{ id: 's1', code: 'GT-101', kind: 'oxygen', unit: '%VOL', zone: '罐区', latest: null }] },
          siteStatus: { asOf: new Date().toISOString(), offlineAfterSeconds: 300 },
          alarms: [],
          workPermits: [...DATA.data.workPermits, { ...DATA.data.workPermits[0]!, id: 'old', closedAt: '2026-12-02T09:00:00.000Z' }],
          silences: DATA.data.silences,
        },
      },
    })
    const { wrapper } = await mountPage(OverviewPage, 'viewer', '/home')
    expect(asked.map((a) => a.operation)).toEqual(['ConsoleOverview'])
    const box = wrapper.find('section.restrictions')
    expect(box.text()).toContain('作业票 1 张，屏蔽 1 项生效中')
    expect(box.text()).toContain('动火作业 · 罐区')
    expect(box.text()).toContain('GT-101')
  })
})
