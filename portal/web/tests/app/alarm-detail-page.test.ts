// The alarm detail page: the whole timeline with who and when, the peak, the chart around the
// alarm, the incident and an event alarm's wearer; an operator dispatches a worker picked from
// the assignees and clears by hand; a viewer gets no handling.
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import { defineComponent, h } from 'vue'

import { alarmWindow } from '@/app/logic/alarm-actions'
import AlarmDetailPage from '@/app/pages/AlarmDetailPage.vue'
import type { AlarmDetail } from '@/app/queries/alarm-detail'

import { graphqlFetch } from './graphql-mock'
import { buttons, click, fill, gqlError, mountPage, settle, shown, submit, TENANT } from './page-harness'

// ECharts needs a canvas jsdom does not have, and its resize watcher can fire after a test has
// torn the page down; the page's own logic is what is tested here.
vi.mock('@/shared/charts/ChartPanel.vue', () => ({
  __esModule: true,
  default: defineComponent({
    props: { option: { type: Object, required: true }, label: String, loading: Boolean, height: String },
    setup(props) {
      return () => h('figure', { role: 'img', 'aria-label': props.label })
    },
  }),
}))

function detail(overrides: Partial<AlarmDetail> = {}): AlarmDetail {
  return {
    id: 'alarm-1',
    severity: 'RED',
    status: 'ACKNOWLEDGED',
    acknowledged: true,
    level: '2nd level',
    value: 41,
    raisedAt: '2026-12-02T10:00:00.000Z',
    acknowledgedAt: '2026-12-02T10:01:00.000Z',
    clearedAt: null,
    closedAt: null,
    verdict: null,
    cause: null,
    silenced: false,
    dispatchedAt: null,
    assignee: null,
    flapping: false,
    escalationStep: 0,
    peakValue: 57.25,
    sensor: { id: 'sensor-1', code: 'GT-101', kind: 'gas', unit: '%LEL', zone: '罐区' },
    site: { id: 'site-1', name: '一号厂区', tenantId: TENANT },
    transitions: [
      { kind: 'RAISED', severity: 'ORANGE', at: '2026-12-02T10:00:00.000Z', note: null, actor: { kind: 'SYSTEM', name: null, email: null } },
      { kind: 'SEVERITY_CHANGED', severity: 'RED', at: '2026-12-02T10:00:30.000Z', note: null, actor: { kind: 'SYSTEM', name: null, email: null } },
      {
        kind: 'ACKNOWLEDGED',
        severity: 'RED',
        at: '2026-12-02T10:01:00.000Z',
        note: '已通知现场',
        actor: { kind: 'USER', name: '张*', email: 'z***@example.cn' },
      },
    ],
    rule: {
      id: 'rule-1',
      kind: 'threshold',
      enabled: true,
      standard: 'GB/T 50493-2019',
      levels: [
        { name: '1st level', severity: 'ORANGE', direction: 'high', setpoint: 20, clearAt: 18 },
        { name: '2nd level', severity: 'RED', direction: 'high', setpoint: 40, clearAt: 38 },
      ],
    },
    incident: { id: 'inc-1', severity: 'RED', alarmCount: 3, openedAt: '2026-12-02T09:59:00.000Z', lastAlarmAt: '2026-12-02T10:00:00.000Z', closedAt: null },
    device: null,
    zone: { id: 'zone-1', name: '罐区' },
    wearer: null,
    snapshotUrl: null,
    ...overrides,
  }
}

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('AlarmDetailPage', () => {
  it('shows the timeline with who and when, the peak, the level in Chinese and the incident', async () => {
    const { asked } = graphqlFetch({
      ConsoleAlarmDetail: { data: { alarm: detail() } },
      ConsoleTelemetry: { data: { telemetry: [] } },
    })
    const { wrapper } = await mountPage(AlarmDetailPage, 'viewer', '/page')
    await settle()
    const text = wrapper.text()
    expect(text).toContain('GT-101')
    expect(text).toContain('57.25 %LEL')
    expect(text).toContain('二级报警')
    expect(text).toContain('共 3 条报警')
    const steps = wrapper.findAll('.transitions__step').map((s) => s.text())
    expect(steps).toHaveLength(3)
    expect(steps[0]).toContain('报警产生')
    expect(steps[0]).toContain('系统')
    expect(steps[2]).toContain('张*')
    expect(steps[2]).toContain('已通知现场')
    // A viewer reads, does not handle.
    expect(buttons('确认')).toHaveLength(0)
    expect(buttons('派人处置')).toHaveLength(0)
    // The chart asks for the sensor around the alarm.
    const telemetry = asked.find((a) => a.operation === 'ConsoleTelemetry')
    expect(telemetry?.variables).toMatchObject({ sensorId: 'sensor-1', from: '2026-12-02T09:00:00.000Z' })
  })

  it('names the wearer and device of an event alarm', async () => {
    graphqlFetch({
      ConsoleAlarmDetail: {
        data: {
          alarm: detail({
            sensor: null,
            rule: null,
            level: 'sos',
            device: { id: 'dev-1', name: '定位手环 07' },
            wearer: { id: 'w-1', name: '李*', employeeNumber: 'E-007' },
          }),
        },
      },
    })
    const { wrapper } = await mountPage(AlarmDetailPage, 'operator', '/page')
    await settle()
    expect(wrapper.text()).toContain('定位手环 07')
    expect(wrapper.text()).toContain('李* · E-007')
    expect(wrapper.text()).toContain('一键求救')
  })

  it('shows the camera snapshot of a PPE alarm and opens it larger on click', async () => {
    const url = '/api/v1/snapshots/snapshots/t/s/frame.jpg'
    const { fetcher } = graphqlFetch({
      ConsoleAlarmDetail: {
        data: { alarm: detail({ sensor: null, rule: null, level: 'no helmet', device: { id: 'dev-1', name: '摄像头 3' }, snapshotUrl: url }) },
      },
    })
    const images: { url: string; headers: unknown }[] = []
    vi.stubGlobal('fetch', async (input: string, init?: RequestInit) => {
      if (!input.startsWith('/api/v1/snapshots/')) return fetcher(input, init)
      images.push({ url: input, headers: init?.headers })
      return new Response(new Uint8Array([0xff, 0xd8, 0xff]), { headers: { 'Content-Type': 'image/jpeg' } })
    })
    const created = vi.fn(() => 'blob:frame-1')
    const revoked = vi.fn()
    const jsdom = { createObjectURL: URL.createObjectURL, revokeObjectURL: URL.revokeObjectURL }
    Object.assign(URL, { createObjectURL: created, revokeObjectURL: revoked })
    onTestFinished(() => void Object.assign(URL, jsdom))
    const { wrapper } = await mountPage(AlarmDetailPage, 'viewer', '/page')
    await settle()
    // Fetched with the session's CSRF header: a plain <img src> could not send it.
    expect(images).toEqual([{ url, headers: { 'X-Anjian-CSRF': '1' } }])
    expect(wrapper.text()).toContain('现场抓拍')
    const thumb = document.querySelector<HTMLImageElement>('img.alarm-snapshot__thumb')
    expect(thumb?.getAttribute('src')).toBe('blob:frame-1')
    expect(thumb?.getAttribute('alt')).toBe('未戴安全帽 报警时的现场抓拍（人脸已打码）')
    expect(document.querySelector('img.alarm-snapshot__large')).toBeNull()
    document.querySelector<HTMLButtonElement>('button.alarm-snapshot__open')!.click()
    const large = (await shown('img.alarm-snapshot__large')) as HTMLImageElement
    expect(large.getAttribute('src')).toBe('blob:frame-1')
    wrapper.unmount()
    expect(revoked).toHaveBeenCalledWith('blob:frame-1')
  })

  it('says so when the snapshot is refused, and shows none for a threshold alarm', async () => {
    const url = '/api/v1/snapshots/snapshots/t/s/gone.jpg'
    const { fetcher } = graphqlFetch({
      ConsoleAlarmDetail: { data: { alarm: detail({ sensor: null, rule: null, level: 'smoke', snapshotUrl: url }) } },
    })
    vi.stubGlobal('fetch', async (input: string, init?: RequestInit) =>
      input.startsWith('/api/v1/snapshots/')
        ? new Response(JSON.stringify({ error: `snapshot ${url} not found` }), { status: 404 })
        : fetcher(input, init),
    )
    const { wrapper } = await mountPage(AlarmDetailPage, 'operator', '/page')
    await settle()
    expect(wrapper.text()).toContain('抓拍图片无法加载')
    expect(wrapper.text()).toContain('not found')
    expect(document.querySelector('img')).toBeNull()
    wrapper.unmount()
    document.body.innerHTML = ''

    // A threshold alarm (its chart left out here: not what this test is about).
    graphqlFetch({ ConsoleAlarmDetail: { data: { alarm: detail({ sensor: null }) } } })
    const threshold = await mountPage(AlarmDetailPage, 'operator', '/page')
    await settle()
    expect(threshold.wrapper.text()).toContain('二级报警')
    expect(threshold.wrapper.text()).not.toContain('现场抓拍')
    threshold.wrapper.unmount()
  })

  it('lets an operator dispatch a worker from the assignees and shows the server refusing a clear', async () => {
    const { asked } = graphqlFetch({
      ConsoleAlarmDetail: { data: { alarm: detail() } },
      ConsoleTelemetry: { data: { telemetry: [] } },
      AlarmAssignees: {
        data: {
          assignees: {
            members: [{ id: 'u-1', name: null, email: 'op@example.cn', role: 'operator' }],
            workers: [{ id: 'w-9', name: '王*', employeeNumber: 'E-009', siteId: 'site-1' }],
          },
        },
      },
      DispatchAlarm: { data: { dispatchAlarm: detail({ status: 'DISPATCHED', assignee: '王*' }) } },
      ClearAlarm: gqlError('the alarm is already cleared', 'BAD_USER_INPUT'),
    })
    const { wrapper } = await mountPage(AlarmDetailPage, 'operator', '/page')
    await settle()
    await click('派人处置')
    await shown('#dispatch-assignee option[value="worker:w-9"]')
    fill('#dispatch-assignee', 'worker:w-9')
    await submit('.el-dialog form')
    const dispatched = asked.find((a) => a.operation === 'DispatchAlarm')
    expect(dispatched?.variables).toMatchObject({ id: 'alarm-1', assigneeWorkerId: 'w-9', assigneeUserId: null })
    expect(asked.find((a) => a.operation === 'AlarmAssignees')?.variables).toEqual({ siteId: 'site-1' })
    expect(wrapper.text()).toContain('王*')

    await click('手动恢复')
    const forms = document.querySelectorAll<HTMLFormElement>('.el-dialog form')
    const clearForm = [...forms].find((f) => f.querySelector('#clear-reason'))!
    fill('#clear-reason', '传感器损坏')
    clearForm.dispatchEvent(new Event('submit'))
    await settle()
    expect(asked.find((a) => a.operation === 'ClearAlarm')?.variables).toMatchObject({ reason: '传感器损坏' })
    expect(document.body.textContent).toContain('the alarm is already cleared')
  })
})

describe('alarmWindow', () => {
  it('runs from an hour before the raise to an hour after the clear, never past now', () => {
    const now = Date.parse('2026-12-02T12:00:00Z')
    expect(alarmWindow('2026-12-02T10:00:00Z', '2026-12-02T10:30:00Z', now)).toEqual({
      from: '2026-12-02T09:00:00.000Z',
      to: '2026-12-02T11:30:00.000Z',
    })
    expect(alarmWindow('2026-12-02T10:00:00Z', '2026-12-02T11:30:00Z', now).to).toBe('2026-12-02T12:00:00.000Z')
    expect(alarmWindow('2026-12-02T10:00:00Z', null, now).to).toBe('2026-12-02T12:00:00.000Z')
  })
})
