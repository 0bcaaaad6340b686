// 辖区报警: the filters as the query's variables, alarm events merged into the list, the CSV,
// and the page as a director and an analyst see it, with an alarm arriving live.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'

import type { AlarmEvent } from '@/app/api'
import {
  alarmHeader,
  alarmRows,
  alarmVariables,
  DEFAULT_FILTERS,
  type JurisdictionAlarm,
  matches,
  maySupervise,
  mergeEvent,
  place,
  rangeStart,
  refreshed,
} from '@/gov/logic/alarms'
import { divisionPrefix } from '@/gov/logic/divisions'
import AlarmsPage from '@/gov/pages/AlarmsPage.vue'
import { createPortalI18n } from '@/shared/i18n'
import { messages } from '@/shared/i18n/messages'
import type { Membership } from '@/shared/session/portal'
import { useSessionStore } from '@/shared/session/store'

import { graphqlFetch } from '../app/graphql-mock'

type Sink = { next: (result: { data?: { alarmEvents: AlarmEvent } }) => void }
const live = vi.hoisted(() => ({ sinks: [] as unknown[], connected: [] as (() => void)[] }))
vi.mock('@/shared/graphql/live', () => ({
  liveClient: () => ({
    on: (name: string, listener: () => void) => {
      if (name === 'connected') live.connected.push(listener)
      return () => undefined
    },
    subscribe: (_payload: unknown, sink: unknown) => {
      live.sinks.push(sink)
      return () => undefined
    },
  }),
}))

function alarm(id: string, over: Partial<JurisdictionAlarm> = {}): JurisdictionAlarm {
  return {
    id,
    severity: 'ORANGE',
    status: 'ACTIVE_UNACKNOWLEDGED',
    acknowledged: false,
    overdue: false,
    value: 30,
    peakValue: null,
    raisedAt: '2026-12-02T08:00:00Z',
    clearedAt: null,
    sensor: { code: 'DJ-GT-102', unit: '%LEL' },
    site: { id: 'site-1', name: '东江一号厂区', divisionCode: '320102', tenant: { name: '东江精细化工有限公司' } },
    supervisions: [],
    ...over,
  }
}

function event(id: string, kind: AlarmEvent['kind'], status: AlarmEvent['alarm']['status'], severity: AlarmEvent['alarm']['severity'] = 'ORANGE'): AlarmEvent {
  return { kind, alarm: { id, severity, status, siteId: 'site-1', sensorId: null } }
}

describe('filters as variables', () => {
  it('passes status, severity and division, and the window start fixed at the first load', () => {
    const filters = { status: 'ALL', severity: 'RED', division: '320102', range: '7d' } as const
    const from = rangeStart('7d', Date.parse('2026-12-08T00:00:00Z'))
    expect(from).toBe('2026-12-01T00:00:00.000Z')
    expect(alarmVariables(filters, from, 50)).toEqual({
      status: 'ALL',
      severity: 'RED',
      divisionCode: '320102',
      from: '2026-12-01T00:00:00.000Z',
      first: 50,
      after: null,
    })
    expect(alarmVariables(filters, from, 50, 'a9').after).toBe('a9')
  })

  it('asks for the whole jurisdiction, active alarms of any time, by default', () => {
    expect(alarmVariables(DEFAULT_FILTERS, rangeStart('all', Date.now()), 50)).toEqual({
      status: 'ACTIVE',
      severity: null,
      divisionCode: null,
      from: null,
      first: 50,
      after: null,
    })
  })

  it('reads a division as the server does: a city holds its districts, a district itself', () => {
    expect(divisionPrefix('320000')).toBe('32')
    expect(divisionPrefix('320100')).toBe('3201')
    expect(divisionPrefix('320102')).toBe('320102')
    const filters = { ...DEFAULT_FILTERS, division: '320100' }
    expect(matches(alarm('a'), filters, null)).toBe(true)
    expect(matches(alarm('a'), { ...filters, division: '320104' }, null)).toBe(false)
    expect(matches(alarm('a'), { ...filters, severity: 'RED' }, null)).toBe(false)
    expect(matches(alarm('a'), filters, '2026-12-03T00:00:00Z')).toBe(false)
    expect(matches(alarm('a', { clearedAt: '2026-12-02T09:00:00Z', status: 'CLEARED' }), filters, null)).toBe(false)
  })
})

describe('live merge', () => {
  const list = [alarm('a3', { raisedAt: '2026-12-02T10:00:00Z' }), alarm('a2', { raisedAt: '2026-12-02T09:00:00Z' })]

  it('updates a listed alarm in place: acknowledged, escalated, upgraded', () => {
    const acked = mergeEvent(list, event('a2', 'ACKNOWLEDGED', 'ACKNOWLEDGED'), DEFAULT_FILTERS)
    expect(acked.fetch).toBeNull()
    expect(acked.alarms.map((a) => [a.id, a.status, a.acknowledged])).toEqual([
      ['a3', 'ACTIVE_UNACKNOWLEDGED', false],
      ['a2', 'ACKNOWLEDGED', true],
    ])
    const late = mergeEvent(list, event('a3', 'ESCALATED', 'ACTIVE_UNACKNOWLEDGED'), DEFAULT_FILTERS)
    expect(late.alarms[0]!.overdue).toBe(true)
    const red = mergeEvent(list, event('a3', 'SEVERITY_CHANGED', 'ACTIVE_UNACKNOWLEDGED', 'RED'), DEFAULT_FILTERS)
    expect(red.alarms[0]!.severity).toBe('RED')
    expect(list[0]!.severity).toBe('ORANGE') // the list given is left as it was
  })

  it('drops an alarm the filters no longer show', () => {
    const cleared = mergeEvent(list, event('a3', 'CLEARED', 'CLEARED'), DEFAULT_FILTERS)
    expect(cleared.alarms.map((a) => a.id)).toEqual(['a2'])
    const kept = mergeEvent(list, event('a3', 'CLEARED', 'CLEARED'), { ...DEFAULT_FILTERS, status: 'ALL' })
    expect(kept.alarms.map((a) => [a.id, a.status])).toEqual([
      ['a3', 'CLEARED'],
      ['a2', 'ACTIVE_UNACKNOWLEDGED'],
    ])
    expect(kept.alarms[0]!.clearedAt).not.toBeNull()
    const upgraded = mergeEvent(list, event('a3', 'SEVERITY_CHANGED', 'ACTIVE_UNACKNOWLEDGED', 'RED'), {
      ...DEFAULT_FILTERS,
      severity: 'ORANGE',
    })
    expect(upgraded.alarms.map((a) => a.id)).toEqual(['a2'])
  })

  it('asks to fetch an alarm it does not list, unless the filters could not show it', () => {
    expect(mergeEvent(list, event('a9', 'RAISED', 'ACTIVE_UNACKNOWLEDGED'), DEFAULT_FILTERS).fetch).toBe('a9')
    expect(mergeEvent(list, event('a9', 'CLOSED', 'CLOSED'), DEFAULT_FILTERS).fetch).toBeNull()
    expect(mergeEvent(list, event('a9', 'RAISED', 'ACTIVE_UNACKNOWLEDGED'), { ...DEFAULT_FILTERS, severity: 'RED' }).fetch).toBeNull()
  })

  it('places a fetched alarm by its raised time, and only where the filters show it', () => {
    const fresh = alarm('a9', { raisedAt: '2026-12-02T11:00:00Z' })
    expect(place(list, fresh, DEFAULT_FILTERS, null, false).map((a) => a.id)).toEqual(['a9', 'a3', 'a2'])
    const between = alarm('a5', { raisedAt: '2026-12-02T09:30:00Z' })
    expect(place(list, between, DEFAULT_FILTERS, null, true).map((a) => a.id)).toEqual(['a3', 'a5', 'a2'])
    // Elsewhere in the jurisdiction than the division chosen: not shown.
    const qinhuai = alarm('a8', { site: { ...fresh.site, divisionCode: '320104' } })
    expect(place(list, qinhuai, { ...DEFAULT_FILTERS, division: '320102' }, null, false).map((a) => a.id)).toEqual(['a3', 'a2'])
    // Older than the last listed while more pages wait: those pages bring it.
    const old = alarm('a1', { raisedAt: '2026-12-01T00:00:00Z' })
    expect(place(list, old, DEFAULT_FILTERS, null, true).map((a) => a.id)).toEqual(['a3', 'a2'])
    expect(place(list, old, DEFAULT_FILTERS, null, false).map((a) => a.id)).toEqual(['a3', 'a2', 'a1'])
    // A second copy replaces the first.
    const changed = alarm('a3', { raisedAt: '2026-12-02T10:00:00Z', acknowledged: true })
    expect(place(list, changed, DEFAULT_FILTERS, null, false).map((a) => [a.id, a.acknowledged])).toEqual([
      ['a3', true],
      ['a2', false],
    ])
  })

  it('keeps the pages loaded below a refreshed first page, unless the answer was all of it', () => {
    const loaded = [...list, alarm('a1', { raisedAt: '2026-12-01T00:00:00Z' })]
    const first = [alarm('a4', { raisedAt: '2026-12-02T12:00:00Z' }), list[0]!]
    // A full page: what was listed below its last alarm stays.
    expect(refreshed(loaded, first, 2).map((a) => a.id)).toEqual(['a4', 'a3', 'a2', 'a1'])
    // A short one is all there is: a2 and a1 no longer match.
    expect(refreshed(loaded, first, 3).map((a) => a.id)).toEqual(['a4', 'a3'])
  })
})

describe('the CSV', () => {
  it('holds one row per alarm in the page language', () => {
    const t = (key: string) => {
      const value = key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)?.[part], messages['zh-CN'])
      return typeof value === 'string' ? value : key
    }
    expect(alarmHeader(t)).toEqual(['报警时间', '级别', '状态', '企业', '厂区', '区划', '监测点', '报警值', '确认情况'])
    const rows = alarmRows([alarm('a1', { overdue: true }), alarm('a2', { acknowledged: true, status: 'ACKNOWLEDGED', value: 12.345 })], t, (c) =>
      c === '320102' ? '玄武区' : c,
    )
    expect(rows[0]).toEqual(['2026-12-02T08:00:00Z', '橙色', '未确认', '东江精细化工有限公司', '东江一号厂区', '玄武区', 'DJ-GT-102', '30 %LEL', '超时未确认'])
    expect(rows[1]!.slice(-2)).toEqual(['12.35 %LEL', '已确认'])
    // A cleared alarm shows what it reached, not the reading that cleared it.
    const cleared = alarm('a3', { status: 'CLEARED', clearedAt: '2026-12-02T09:00:00Z', value: 0, peakValue: 55 })
    expect(alarmRows([cleared], t, (c) => c)[0]!.slice(-2)).toEqual(['55 %LEL', '已恢复'])
  })

  it('has every key in English too', () => {
    const zh = messages['zh-CN'].govAlarms
    const en = messages.en.govAlarms
    expect(Object.keys(en).sort()).toEqual(Object.keys(zh).sort())
    expect(Object.keys(en.column).sort()).toEqual(Object.keys(zh.column).sort())
    expect(messages.en.govNav.alarms).toBeTruthy()
  })
})

describe('AlarmsPage', () => {
  const CHILDREN = {
    data: {
      jurisdiction: {
        divisionCode: '320100',
        name: '南京市',
        children: [
          { divisionCode: '320102', name: '玄武区' },
          { divisionCode: '320104', name: '秦淮区' },
        ],
      },
    },
  }

  beforeEach(() => {
    live.sinks.length = 0
    live.connected.length = 0
  })
  afterEach(() => vi.unstubAllGlobals())

  async function mountAs(memberships: Membership[]) {
    const pinia = createPinia()
    setActivePinia(pinia)
    useSessionStore().me = { email: 'someone@example.cn', memberships }
    const stub = { render: () => 'page' }
    const router = createRouter({
      history: createMemoryHistory(),
      routes: [
        { path: '/alarms', name: 'alarms', component: stub },
        { path: '/sites/:id', name: 'site', component: stub },
      ],
    })
    await router.push('/alarms')
    const wrapper = mount(AlarmsPage, { global: { plugins: [pinia, createPortalI18n('zh-CN'), router] } })
    for (let i = 0; i < 5; i++) await flushPromises()
    return wrapper
  }

  it('lists the alarms, narrows by division, and takes a raised alarm in live', async () => {
    const raised = alarm('a9', { severity: 'RED', raisedAt: '2026-12-02T12:00:00Z', value: 70 })
    const { asked } = graphqlFetch({
      GovChildDivisions: CHILDREN,
      JurisdictionAlarms: (v) => ({ data: { alarms: v.divisionCode === '320104' ? [] : [alarm('a1')] } }),
      JurisdictionAlarm: { data: { alarm: raised } },
    })
    const wrapper = await mountAs([{ domain: 'gov:320100', role: 'director' }])
    const text = wrapper.text()
    expect(text).toContain('东江一号厂区')
    expect(text).toContain('东江精细化工有限公司')
    expect(text).toContain('30 %LEL')
    expect(text).toContain('待确认')
    expect(wrapper.find('a[href="/sites/site-1"]').exists()).toBe(true)
    expect(wrapper.find('button[aria-label="督办 东江一号厂区 DJ-GT-102 的报警"]').exists()).toBe(true)
    const options = wrapper.findAll('select[name="division"] option').map((o) => o.text())
    expect(options).toEqual(['南京市（全辖区）', '玄武区', '秦淮区'])

    await wrapper.find('select[name="division"]').setValue('320104')
    for (let i = 0; i < 5; i++) await flushPromises()
    expect(asked.filter((a) => a.operation === 'JurisdictionAlarms').at(-1)!.variables).toMatchObject({
      divisionCode: '320104',
      status: 'ACTIVE',
    })
    expect(wrapper.text()).toContain('没有符合条件的报警。')

    await wrapper.find('select[name="division"]').setValue('')
    for (let i = 0; i < 5; i++) await flushPromises()
    expect(wrapper.text()).toContain('东江一号厂区')
    for (const sink of live.sinks as Sink[]) sink.next({ data: { alarmEvents: event('a9', 'RAISED', 'ACTIVE_UNACKNOWLEDGED', 'RED') } })
    for (let i = 0; i < 5; i++) await flushPromises()
    const rows = wrapper.findAll('.jalarm')
    expect(rows.map((r) => r.find('.jalarm__severity').text())).toEqual(['红色报警', '橙色报警'])
    expect(rows[0]!.text()).toContain('70 %LEL')
    expect(rows[0]!.classes()).toContain('jalarm--fresh')

    for (const sink of live.sinks as Sink[]) sink.next({ data: { alarmEvents: event('a1', 'ACKNOWLEDGED', 'ACKNOWLEDGED') } })
    await flushPromises()
    expect(wrapper.findAll('.jalarm')[1]!.text()).toContain('已确认')
  })

  it('gives an analyst no 督办', async () => {
    graphqlFetch({ GovChildDivisions: CHILDREN, JurisdictionAlarms: { data: { alarms: [alarm('a1')] } } })
    const wrapper = await mountAs([{ domain: 'gov:320100', role: 'analyst' }])
    expect(wrapper.text()).toContain('东江一号厂区')
    expect(wrapper.findAll('button').map((b) => b.text())).not.toContain('督办')
  })

  it('offers no 督办 on an alarm already supervised or cleared', () => {
    expect(maySupervise(alarm('a'))).toBe(true)
    expect(maySupervise(alarm('a', { supervisions: [{ status: 'REQUESTED', overdue: false }] }))).toBe(false)
    expect(maySupervise(alarm('a', { supervisions: [{ status: 'ACCEPTED', overdue: false }] }))).toBe(true)
    expect(maySupervise(alarm('a', { status: 'CLEARED', clearedAt: '2026-12-02T09:00:00Z' }))).toBe(false)
  })
})
