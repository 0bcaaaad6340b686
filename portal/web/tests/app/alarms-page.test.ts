// The alarm console as each role meets it: a viewer sees the alarms and no handling; an
// operator acknowledges with a note and closes a cleared alarm with verdict and cause.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'

import type { ConsoleAlarm } from '@/app/api'
import AlarmsPage from '@/app/pages/AlarmsPage.vue'
import { useAlarmFeedStore } from '@/app/stores/alarm-feed'
import { useSitesStore } from '@/app/stores/sites'
import { createPortalI18n } from '@/shared/i18n'
import { useSessionStore } from '@/shared/session/store'

import { graphqlFetch } from './graphql-mock'

const TENANT = 'a0000000-0000-4000-8000-000000000001'

function alarm(id: string, overrides: Partial<ConsoleAlarm> = {}): ConsoleAlarm {
  return {
    id,
    severity: 'ORANGE',
    status: 'ACTIVE_UNACKNOWLEDGED',
    acknowledged: false,
    level: 'H',
    value: 31.5,
    raisedAt: '2026-12-02T12:00:00.000Z',
    acknowledgedAt: null,
    clearedAt: null,
    closedAt: null,
    verdict: null,
    cause: null,
    silenced: false,
    sensor: { id: `sensor-${id}`, code: `GT-${id}`, kind: 'gas', unit: '%LEL', zone: '罐区' },
    site: { id: 'site-1', name: '一号厂区', tenantId: TENANT },
    ...overrides,
  }
}

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

async function mountAlarms(role: string, path = '/alarms') {
  const pinia = createPinia()
  setActivePinia(pinia)
  useSessionStore().me = { email: `${role}@example.cn`, memberships: [{ domain: `tenant:${TENANT}`, role }] }
  const sites = useSitesStore()
  sites.sites = [
    { id: 'site-1', name: '一号厂区', tenantId: TENANT },
    { id: 'site-2', name: '二号厂区', tenantId: TENANT },
  ]
  sites.loaded = true
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/alarms', name: 'alarms', component: AlarmsPage },
      { path: '/alarms/:id', name: 'alarm', component: { render: () => 'detail' } },
      { path: '/sensors/:id?', name: 'sensor-history', component: { render: () => 'chart' } },
    ],
  })
  await router.push(path)
  const wrapper = mount(AlarmsPage, {
    global: { plugins: [pinia, createPortalI18n('zh-CN'), router] },
    attachTo: document.body,
  })
  await flushPromises()
  return { wrapper, router }
}

const buttons = (text: string) => [...document.querySelectorAll('button')].filter((b) => b.textContent?.trim() === text)

describe('AlarmsPage', () => {
  it('shows a viewer the alarms and no acknowledge or close control', async () => {
    graphqlFetch({
      ConsoleAlarms: { data: { alarms: [alarm('1'), alarm('2', { status: 'CLEARED', acknowledged: true })] } },
    })
    const { wrapper } = await mountAlarms('viewer')
    expect(wrapper.findAll('li.alarm')).toHaveLength(2)
    expect(wrapper.text()).toContain('GT-1')
    expect(buttons('确认')).toHaveLength(0)
    expect(buttons('关闭')).toHaveLength(0)
  })

  it('lets an operator acknowledge with a note, through the mutation', async () => {
    let acknowledged = false
    const { asked } = graphqlFetch({
      ConsoleAlarms: () => ({
        data: { alarms: [alarm('1', acknowledged ? { status: 'ACKNOWLEDGED', acknowledged: true } : {})] },
      }),
      AcknowledgeAlarm: (variables) => {
        acknowledged = true
        return { data: { acknowledgeAlarm: alarm(String(variables.id), { status: 'ACKNOWLEDGED', acknowledged: true }) } }
      },
    })
    const { wrapper } = await mountAlarms('operator')
    const acknowledge = wrapper.find('button[aria-label="确认报警 GT-1"]')
    expect(acknowledge.exists()).toBe(true)
    await acknowledge.trigger('click')
    await flushPromises()
    const note = document.querySelector<HTMLTextAreaElement>('textarea#acknowledge-note')!
    expect(document.querySelector('label[for="acknowledge-note"]')?.textContent).toBe('处置说明（可选）')
    note.value = '  现场已关闭阀门  '
    note.dispatchEvent(new Event('input'))
    document.querySelector<HTMLFormElement>('.dialog-form')!.dispatchEvent(new Event('submit'))
    await flushPromises()
    const mutation = asked.find((a) => a.operation === 'AcknowledgeAlarm')
    expect(mutation?.variables).toEqual({ id: '1', note: '现场已关闭阀门' })
    expect(wrapper.text()).toContain('已确认')
    expect(wrapper.find('button[aria-label="确认报警 GT-1"]').exists()).toBe(false)
  })

  it('closes a cleared alarm only with a verdict and a cause', async () => {
    const { asked } = graphqlFetch({
      ConsoleAlarms: { data: { alarms: [alarm('5', { status: 'CLEARED', acknowledged: true })] } },
      CloseAlarm: (variables) => ({
        data: { closeAlarm: alarm(String(variables.id), { status: 'CLOSED', acknowledged: true, verdict: 'FALSE_POSITIVE' }) },
      }),
    })
    const { wrapper } = await mountAlarms('safety_manager')
    await wrapper.find('button[aria-label="关闭报警 GT-5"]').trigger('click')
    await flushPromises()
    const form = document.querySelector<HTMLFormElement>('.dialog-form')!
    form.dispatchEvent(new Event('submit'))
    await flushPromises()
    expect(document.body.textContent).toContain('请选择结论并填写原因。')
    expect(asked.some((a) => a.operation === 'CloseAlarm')).toBe(false)
    const falsePositive = document.querySelector<HTMLInputElement>('input[value="FALSE_POSITIVE"]')!
    falsePositive.checked = true
    falsePositive.dispatchEvent(new Event('change'))
    const cause = document.querySelector<HTMLTextAreaElement>('textarea#close-cause')!
    cause.value = '探头受潮'
    cause.dispatchEvent(new Event('input'))
    form.dispatchEvent(new Event('submit'))
    await flushPromises()
    expect(asked.find((a) => a.operation === 'CloseAlarm')?.variables).toEqual({
      id: '5',
      verdict: 'FALSE_POSITIVE',
      cause: '探头受潮',
    })
  })

  it('filters through the address and pages with after', async () => {
    const page = Array.from({ length: 50 }, (_, i) => alarm(String(100 - i)))
    const { asked } = graphqlFetch({
      ConsoleAlarms: (variables) => ({
        data: { alarms: variables.after ? [alarm('9')] : page },
      }),
    })
    const { wrapper, router } = await mountAlarms('operator', '/alarms?status=ALL&severity=RED&site=site-2')
    expect(asked[0]!.variables).toMatchObject({ status: 'ALL', severity: 'RED', siteId: 'site-2', first: 50, after: null })
    await buttons('加载更多')[0]!.click()
    await flushPromises()
    expect(asked.at(-1)!.variables).toMatchObject({ after: '51', first: 50 })
    expect(wrapper.findAll('li.alarm')).toHaveLength(51)

    const severity = wrapper.findAll('select')[1]!
    await severity.setValue('')
    await flushPromises()
    expect(router.currentRoute.value.query.severity).toBeUndefined()
    expect(asked.at(-1)!.variables).toMatchObject({ severity: null, first: 50, after: null })
  })

  it('announces a RED alarm that appears after the first load, not those already there', async () => {
    let alarms = [alarm('1', { severity: 'RED' })]
    graphqlFetch({ ConsoleAlarms: () => ({ data: { alarms } }) })
    await mountAlarms('operator')
    const feed = useAlarmFeedStore()
    const played: number[] = []
    feed.useSound({ enable: async () => true, enabled: true, play: () => played.push(1) })
    expect(feed.announcements).toHaveLength(0)
    alarms = [alarm('2', { severity: 'RED' }), ...alarms]
    feed.hear({ kind: 'ACKNOWLEDGED', alarm: { id: '1', severity: 'RED', status: 'ACKNOWLEDGED', siteId: 'site-1', sensorId: null } })
    await flushPromises()
    expect(feed.announcements.map((a) => a.alarmId)).toEqual(['2'])
    expect(played).toHaveLength(0) // sound was never enabled
  })
})
