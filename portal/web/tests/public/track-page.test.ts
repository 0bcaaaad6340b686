// Tracking by receipt code: the code forgiven as the server forgives it, the status and the
// dated history shown, the outcome once published; an unknown code and a malformed one.
import { afterEach, describe, expect, it, vi } from 'vitest'

import TrackPage from '@/public/pages/TrackPage.vue'

import { json, mountPublic, publicServer, settle } from './harness'

const CLOSED = {
  receipt: 'AJ-7K3M-Q9PX-2D4H-VW8T',
  status: 'CLOSED',
  timeline: [
    { at: '2026-12-01T02:00:00.000Z', status: 'RECEIVED', note: null },
    { at: '2026-12-01T06:30:00.000Z', status: 'ACCEPTED', note: '已转玄武区应急管理局办理' },
    { at: '2026-12-02T01:00:00.000Z', status: 'INVESTIGATING', note: null },
    { at: '2026-12-03T08:00:00.000Z', status: 'CLOSED', note: '已责令整改' },
  ],
  outcome: '经现场核查，举报属实。已责令企业清理消防通道并更换灭火器，复查合格。',
}

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('TrackPage', () => {
  it('looks up a code typed loosely and shows the status, the dated history and the outcome', async () => {
    const calls = publicServer({ 'GET /api/v1/reports/AJ-7K3M-Q9PX-2D4H-VW8T': json(CLOSED) })
    const { wrapper } = await mountPublic(TrackPage, '/track')
    await wrapper.find('#track-code').setValue(' aj 7k3m-q9px-2d4h-vw8t ')
    await wrapper.find('form').trigger('submit')
    await settle()
    expect(calls.map((call) => call.url)).toEqual(['/api/v1/reports/AJ-7K3M-Q9PX-2D4H-VW8T'])
    expect((wrapper.find('#track-code').element as HTMLInputElement).value).toBe('AJ-7K3M-Q9PX-2D4H-VW8T')
    expect(wrapper.find('.track__status').text()).toBe('已办结')
    const steps = wrapper.findAll('.timeline__step')
    expect(steps.map((step) => step.find('.timeline__status').text())).toEqual(['已收到', '已受理', '核查中', '已办结'])
    expect(steps.map((step) => step.find('time').attributes('datetime'))).toEqual(CLOSED.timeline.map((step) => step.at))
    expect(steps[0]!.find('time').text()).toMatch(/2026/)
    expect(steps[1]!.find('.timeline__note').text()).toBe('已转玄武区应急管理局办理')
    expect(steps[0]!.find('.timeline__note').exists()).toBe(false)
    expect(wrapper.find('.track__outcome').text()).toBe(CLOSED.outcome)
  })

  it('says the outcome comes later while the report is open, in English too', async () => {
    const open = { ...CLOSED, status: 'INVESTIGATING', timeline: CLOSED.timeline.slice(0, 3), outcome: null }
    publicServer({ 'GET /api/v1/reports/*': json(open) })
    const { wrapper } = await mountPublic(TrackPage, '/track', {}, 'en')
    await wrapper.find('#track-code').setValue('7K3MQ9PX2D4HVW8T')
    await wrapper.find('form').trigger('submit')
    await settle()
    expect(wrapper.find('.track__status').text()).toBe('Under investigation')
    expect(wrapper.text()).toContain('The outcome is published here once the report is closed.')
    expect(wrapper.find('.track__outcome').exists()).toBe(false)
  })

  it('looks up the code the receipt page handed over', async () => {
    publicServer({ 'GET /api/v1/reports/AJ-7K3M-Q9PX-2D4H-VW8T': json(CLOSED) })
    const { wrapper } = await mountPublic(TrackPage, '/track', { receipt: 'AJ-7K3M-Q9PX-2D4H-VW8T' })
    expect(wrapper.findAll('.timeline__step')).toHaveLength(4)
  })

  it('says when no report has the code, and refuses one that cannot be a code without asking', async () => {
    const calls = publicServer({ 'GET /api/v1/reports/*': json({ error: 'no such report' }, 404) })
    const { wrapper } = await mountPublic(TrackPage, '/track')
    await wrapper.find('#track-code').setValue('AJ-0000-0000-0000-0000')
    await wrapper.find('form').trigger('submit')
    await settle()
    expect(wrapper.find('[role=alert]').text()).toBe('没有与这个回执码对应的举报，请核对后重试。')
    expect(wrapper.find('.track__report').exists()).toBe(false)

    await wrapper.find('#track-code').setValue('AJ-1234')
    await wrapper.find('form').trigger('submit')
    await settle()
    expect(wrapper.find('[role=alert]').text()).toBe('回执码应为 AJ 加 16 位字母或数字，请核对。')
    expect(wrapper.find('#track-code').attributes('aria-invalid')).toBe('true')
    expect(calls).toHaveLength(1)
  })

  it('says how long to wait when tracking is throttled', async () => {
    publicServer({ 'GET /api/v1/reports/*': json({ error: 'slow down' }, 429, { 'Retry-After': '300' }) })
    const { wrapper } = await mountPublic(TrackPage, '/track')
    await wrapper.find('#track-code').setValue('AJ-0000-0000-0000-0000')
    await wrapper.find('form').trigger('submit')
    await settle()
    expect(wrapper.find('[role=alert]').text()).toBe('操作过于频繁，请 5 分钟后再试。')
  })
})
