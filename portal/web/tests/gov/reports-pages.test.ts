// 举报处理 as each government role meets it: the queue's filters as the query's variables, the
// deadlines and the actions a role has in a report's status; the queue filtered and paged; a
// report's detail with only the actions its reader's role allows, the reporter's contact asked
// for only on a press, and an action's refusal shown where it was asked.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Component } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'

import {
  categoryName,
  DEFAULT_REPORT_FILTERS,
  handlingRole,
  mayReadContact,
  pendingDeadlines,
  reportActions,
  type ReportDetail,
  type ReportRow,
  reportRows,
  reportVariables,
} from '@/gov/logic/reports'
import ReportDetailPage from '@/gov/pages/ReportDetailPage.vue'
import ReportsPage from '@/gov/pages/ReportsPage.vue'
import { createPortalI18n } from '@/shared/i18n'
import type { Membership } from '@/shared/session/portal'
import { useSessionStore } from '@/shared/session/store'

import { graphqlFetch } from '../app/graphql-mock'

const CATEGORIES = [
  { code: 'MAJOR_HAZARD', nameZh: '重大事故隐患', nameEn: 'Major accident hazard' },
  { code: 'ILLEGAL_OPERATION', nameZh: '非法违法生产经营', nameEn: 'Illegal production or business' },
]
const NAMES: Record<string, string> = { '320100': '南京市', '320102': '玄武区', '320104': '秦淮区' }
const DIVISIONS = {
  data: {
    jurisdiction: {
      divisionCode: '320102',
      name: '玄武区',
      children: [],
    },
  },
}
const CITY = {
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

const HOUR = 3_600_000
const iso = (ms: number) => new Date(ms).toISOString()

function row(id: string, over: Partial<ReportRow> = {}): ReportRow {
  return {
    id,
    category: 'MAJOR_HAZARD',
    divisionCode: '320102',
    handlingDivisionCode: '320102',
    subject: '东江精细化工',
    status: 'RECEIVED',
    receivedAt: iso(Date.now() - 2 * HOUR),
    acceptDueAt: iso(Date.now() + 70 * HOUR),
    acceptedAt: null,
    closeDueAt: null,
    closedAt: null,
    feedbackDueAt: null,
    feedbackAt: null,
    overdue: false,
    anonymous: false,
    assignee: null,
    ...over,
  }
}

function detail(over: Partial<ReportDetail> = {}): ReportDetail {
  return {
    ...row('r1'),
    description: '储罐区有刺鼻气味，夜间有人私自动火。',
    address: '玄武区龙蟠路 1 号东侧',
    location: { lat: 32.06, lon: 118.8 },
    observedAt: iso(Date.now() - 5 * HOUR),
    closeExtended: false,
    outcome: null,
    publicSummary: null,
    summaryPublishedAt: null,
    rewardEligible: null,
    subjectSite: null,
    linkedInspectionId: null,
    linkedNoticeId: null,
    mergedIntoId: null,
    photos: [],
    timeline: [
      { at: iso(Date.now() - 2 * HOUR), status: 'RECEIVED', note: null, internal: false, actorEmail: null },
      { at: iso(Date.now() - HOUR), status: 'RECEIVED', note: '先电话核实位置', internal: true, actorEmail: 'insp@xuanwu.gov.cn' },
    ],
    duplicateCandidates: [],
    contactGiven: true,
    ...over,
  }
}

const divisionNames = (variables: Record<string, unknown>) => ({
  data: Object.fromEntries(
    Object.entries(variables).map(([key, code]) => [`d${key.slice(1)}`, { divisionCode: code, name: NAMES[String(code)] ?? code }]),
  ),
})

/** GraphQL by operation, the categories and the photos by REST; what each was asked is kept. */
function serve(answers: Parameters<typeof graphqlFetch>[0]) {
  const { asked, fetcher } = graphqlFetch({ GovDivisionNames: divisionNames, ...answers })
  const rest: { url: string; headers: Record<string, string> }[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init?: RequestInit) => {
      if (url.startsWith('/api/v1/reports/')) {
        rest.push({ url, headers: { ...(init?.headers as Record<string, string>) } })
        if (url === '/api/v1/reports/categories') {
          return new Response(JSON.stringify(CATEGORIES), { headers: { 'Content-Type': 'application/json' } })
        }
        return new Response(new Blob(['jpeg'], { type: 'image/jpeg' }), { headers: { 'Content-Type': 'image/jpeg' } })
      }
      return fetcher(url, init)
    }),
  )
  return { asked, rest }
}

async function mountAt(component: Component, path: string, memberships: Membership[], email = 'someone@xuanwu.gov.cn') {
  const pinia = createPinia()
  setActivePinia(pinia)
  useSessionStore().me = { email, memberships }
  const stub = { render: () => 'page' }
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/reports', name: 'reports', component: stub },
      { path: '/reports/:id', name: 'report', component: stub },
      { path: '/sites/:id', name: 'site', component: stub },
      { path: '/inspections/:id', name: 'inspection', component: stub },
      { path: '/notices/:id', name: 'notice', component: stub },
    ],
  })
  await router.push(path)
  const wrapper = mount(component, { global: { plugins: [pinia, createPortalI18n('zh-CN'), router] }, attachTo: document.body })
  for (let i = 0; i < 5; i++) await flushPromises()
  return { wrapper, router }
}

const buttonTexts = (wrapper: { findAll: (s: string) => { text: () => string }[] }) => wrapper.findAll('button').map((b) => b.text())

async function openDialog(wrapper: Awaited<ReturnType<typeof mountAt>>['wrapper'], label: string): Promise<Element> {
  await wrapper.findAll('button').find((b) => b.text() === label)!.trigger('click')
  await vi.waitFor(() => {
    if (!document.querySelector('.el-dialog form')) throw new Error('no dialog')
  })
  await flushPromises()
  return document.querySelector('.el-dialog')!
}

function fill(dialog: Element, selector: string, value: string): void {
  const field = dialog.querySelector(selector) as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement
  field.value = value
  field.dispatchEvent(new Event(field instanceof HTMLSelectElement ? 'change' : 'input'))
}

afterEach(() => {
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
  document.body.innerHTML = ''
})

const DIRECTOR: Membership[] = [{ domain: 'gov:320102', role: 'director' }]
const INSPECTOR: Membership[] = [{ domain: 'gov:320102', role: 'inspector' }]
const ANALYST: Membership[] = [{ domain: 'gov:320102', role: 'analyst' }]
const CITY_DIRECTOR: Membership[] = [{ domain: 'gov:320100', role: 'director' }]

describe('report logic', () => {
  it('asks for everything unless a box is ticked', () => {
    expect(reportVariables(DEFAULT_REPORT_FILTERS, 21, null)).toEqual({
      divisionCode: null,
      status: null,
      overdue: null,
      assignedToMe: null,
      first: 21,
      after: null,
    })
    expect(reportVariables({ status: 'ACCEPTED', overdue: true, assignedToMe: true, division: '320102' }, 21, 'r9')).toEqual({
      divisionCode: '320102',
      status: 'ACCEPTED',
      overdue: true,
      assignedToMe: true,
      first: 21,
      after: 'r9',
    })
  })

  it('gives each status the deadline still to meet, late once passed', () => {
    const now = Date.parse('2026-12-03T12:00:00Z')
    const received = row('a', { acceptDueAt: '2026-12-03T11:00:00Z' })
    expect(pendingDeadlines(received, now)).toEqual([{ kind: 'accept', at: '2026-12-03T11:00:00Z', late: true }])
    const accepted = row('b', { status: 'INVESTIGATING', closeDueAt: '2027-01-30T00:00:00Z' })
    expect(pendingDeadlines(accepted, now)).toEqual([{ kind: 'close', at: '2027-01-30T00:00:00Z', late: false }])
    const closed = row('c', { status: 'CLOSED', feedbackDueAt: '2026-12-01T00:00:00Z' })
    expect(pendingDeadlines(closed, now)).toEqual([{ kind: 'feedback', at: '2026-12-01T00:00:00Z', late: true }])
    expect(pendingDeadlines({ ...closed, feedbackAt: '2026-11-30T00:00:00Z' }, now)).toEqual([])
    expect(pendingDeadlines(row('d', { status: 'REJECTED' }), now)).toEqual([])
  })

  it('takes the role in the handling division, director first; none from above', () => {
    const both: Membership[] = [...INSPECTOR, { domain: 'gov:320102', role: 'director' }]
    expect(handlingRole(both, row('a'))).toBe('director')
    expect(handlingRole(INSPECTOR, row('a'))).toBe('inspector')
    expect(handlingRole(CITY_DIRECTOR, row('a'))).toBeNull()
    expect(handlingRole(CITY_DIRECTOR, row('a', { handlingDivisionCode: '320100' }))).toBe('director')
  })

  it('offers each role the actions of the status', () => {
    const received = detail({ duplicateCandidates: [{ id: 'r2', category: 'MAJOR_HAZARD', status: 'RECEIVED', receivedAt: iso(0), subject: null, address: null }] })
    expect(reportActions(received, 'director')).toEqual(['accept', 'reject', 'assign', 'merge'])
    expect(reportActions(received, 'inspector')).toEqual(['accept', 'reject', 'merge'])
    expect(reportActions(received, 'analyst')).toEqual([])
    expect(reportActions(received, null)).toEqual([])
    const accepted = detail({ status: 'ACCEPTED' })
    expect(reportActions(accepted, 'director')).toEqual(['assign', 'subject', 'investigate', 'close', 'extend', 'summary'])
    expect(reportActions({ ...accepted, closeExtended: true, subjectSite: { id: 's', name: 's', tenant: { name: 't' } } }, 'inspector')).toEqual([
      'investigate',
      'close',
      'summary',
    ])
    const closed = detail({ status: 'CLOSED', publicSummary: '已责令整改。' })
    expect(reportActions(closed, 'director')).toEqual(['feedback', 'summary', 'publish'])
    expect(reportActions(closed, 'inspector')).toEqual(['feedback', 'summary'])
    const done = { ...closed, feedbackAt: iso(0), summaryPublishedAt: iso(0) }
    expect(reportActions(done, 'director')).toEqual([])
    expect(reportActions(detail({ status: 'MERGED', mergedIntoId: 'r2' }), 'director')).toEqual([])
  })

  it('offers the contact to the director and the assigned inspector of a real-name report only', () => {
    const assigned = detail({ assignee: { userId: 'u1', email: 'Insp@xuanwu.gov.cn' } })
    expect(mayReadContact(assigned, 'director', 'boss@xuanwu.gov.cn')).toBe(true)
    expect(mayReadContact(assigned, 'inspector', 'insp@xuanwu.gov.cn')).toBe(true)
    expect(mayReadContact(assigned, 'inspector', 'other@xuanwu.gov.cn')).toBe(false)
    expect(mayReadContact(assigned, 'analyst', 'insp@xuanwu.gov.cn')).toBe(false)
    expect(mayReadContact(assigned, null, 'boss@xuanwu.gov.cn')).toBe(false)
    expect(mayReadContact({ ...assigned, contactGiven: false }, 'director', 'boss@xuanwu.gov.cn')).toBe(false)
  })

  it('names categories in the page language and writes the CSV', () => {
    expect(categoryName(CATEGORIES, 'MAJOR_HAZARD', 'zh-CN')).toBe('重大事故隐患')
    expect(categoryName(CATEGORIES, 'MAJOR_HAZARD', 'en')).toBe('Major accident hazard')
    expect(categoryName(CATEGORIES, 'UNKNOWN', 'en')).toBe('UNKNOWN')
    const t = (key: string) => key
    const [cells] = reportRows([row('a', { overdue: true, assignee: { userId: 'u', email: 'i@x.cn' } })], t, (c) => `cat:${c}`, (c) => `div:${c}`)
    expect(cells!.slice(1, 6)).toEqual(['cat:MAJOR_HAZARD', 'div:320102', 'div:320102', '东江精细化工', 'reportStatus.RECEIVED'])
    expect(cells!.slice(9)).toEqual(['govReports.yes', 'i@x.cn'])
  })
})

describe('ReportsPage', () => {
  it('lists the queue with category names, deadlines and assignees, and filters and pages it', async () => {
    const late = row('r2', {
      status: 'ACCEPTED',
      category: 'ILLEGAL_OPERATION',
      divisionCode: '320104',
      handlingDivisionCode: '320100',
      closeDueAt: iso(Date.now() - HOUR),
      overdue: true,
      assignee: { userId: 'u1', email: 'insp@nanjing.gov.cn' },
    })
    const page = [row('r1'), late, ...Array.from({ length: 19 }, (_, i) => row(`x${i}`))]
    const { asked, rest } = serve({ GovDivisionOptions: CITY, GovHazardReports: { data: { hazardReports: page } } })
    const { wrapper } = await mountAt(ReportsPage, '/reports', CITY_DIRECTOR)

    expect(wrapper.find('h1').text()).toBe('举报处理')
    expect(rest.map((r) => r.url)).toContain('/api/v1/reports/categories')
    const table = wrapper.find('table[aria-label="举报列表"]')
    const rows = table.findAll('tbody tr')
    expect(rows).toHaveLength(20) // one more than a page was asked for: there is a next page
    expect(rows[0]!.text()).toContain('重大事故隐患')
    expect(rows[0]!.text()).toContain('受理期限')
    expect(rows[0]!.text()).toContain('未指派')
    expect(rows[0]!.find('a[href="/reports/r1"]').exists()).toBe(true)
    expect(rows[1]!.text()).toContain('非法违法生产经营')
    expect(rows[1]!.text()).toContain('秦淮区')
    expect(rows[1]!.text()).toContain('由南京市办理')
    expect(rows[1]!.text()).toContain('insp@nanjing.gov.cn')
    expect(rows[1]!.find('.report-deadline--late').text()).toContain('办结期限')
    expect(rows[0]!.find('.report-deadline--late').exists()).toBe(false)

    expect(asked.find((a) => a.operation === 'GovHazardReports')!.variables).toEqual({
      divisionCode: null,
      status: null,
      overdue: null,
      assignedToMe: null,
      first: 21,
      after: null,
    })
    await wrapper.find('select[name="status"]').setValue('ACCEPTED')
    await wrapper.find('select[name="division"]').setValue('320104')
    await wrapper.find('input[name="overdue"]').setValue(true)
    await wrapper.find('input[name="assignedToMe"]').setValue(true)
    await flushPromises()
    expect(asked.filter((a) => a.operation === 'GovHazardReports').at(-1)!.variables).toEqual({
      divisionCode: '320104',
      status: 'ACCEPTED',
      overdue: true,
      assignedToMe: true,
      first: 21,
      after: null,
    })
    expect(wrapper.findAll('select[name="division"] option').map((o) => o.text())).toEqual(['全部辖区', '南京市', '— 玄武区', '— 秦淮区'])

    await wrapper.findAll('.pager button').find((b) => b.text() === '下一页')!.trigger('click')
    await flushPromises()
    expect(asked.filter((a) => a.operation === 'GovHazardReports').at(-1)!.variables).toMatchObject({ after: page[19]!.id })
  })

  it('exports every page of the filtered queue as CSV', async () => {
    const first = Array.from({ length: 500 }, (_, i) => row(`p${i}`))
    const { asked } = serve({
      GovDivisionOptions: DIVISIONS,
      GovHazardReports: (variables) => ({
        data: { hazardReports: variables.first === 500 ? (variables.after ? [row('last')] : first) : [row('r1')] },
      }),
    })
    const created = vi.fn((_blob: Blob) => 'blob:csv')
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: created, revokeObjectURL: vi.fn() }))
    const saved: string[] = []
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      saved.push(this.download)
    })
    const { wrapper } = await mountAt(ReportsPage, '/reports', DIRECTOR)
    await wrapper.find('input[name="overdue"]').setValue(true)
    await flushPromises()
    await wrapper.findAll('button').find((b) => b.text() === '导出 CSV')!.trigger('click')
    await vi.waitFor(() => expect(saved).toHaveLength(1))
    const pages = asked.filter((a) => a.operation === 'GovHazardReports' && a.variables.first === 500)
    expect(pages.map((a) => a.variables.after)).toEqual([null, 'p499'])
    expect(pages.every((a) => a.variables.overdue === true)).toBe(true)
    expect(saved[0]).toMatch(/^reports-320102-\d{4}-\d{2}-\d{2}\.csv$/)
    const text = await created.mock.calls[0]![0].text()
    expect(text.split('\r\n').filter(Boolean)).toHaveLength(502)
    expect(text).toContain('收到时间,类别,所在区划')
    expect(text).toContain('重大事故隐患')
  })

  it('says when nothing matches, and when the queue cannot be read', async () => {
    serve({ GovDivisionOptions: DIVISIONS, GovHazardReports: { data: { hazardReports: [] } } })
    const empty = await mountAt(ReportsPage, '/reports', ANALYST)
    expect(empty.wrapper.text()).toContain('没有符合条件的举报。')
    vi.unstubAllGlobals()
    serve({ GovDivisionOptions: DIVISIONS, GovHazardReports: { data: null, errors: [{ message: 'boom', extensions: { code: 'INTERNAL' } }] } })
    const failed = await mountAt(ReportsPage, '/reports', ANALYST)
    expect(failed.wrapper.find('[role="alert"]').text()).toContain('boom')
  })
})

describe('ReportDetailPage', () => {
  it('shows the report, its photos, the public timeline apart from the internal notes, and a director its actions', async () => {
    const { asked, rest } = serve({ GovHazardReport: { data: { hazardReport: detail({ photos: ['k1'] }) } } })
    const { wrapper } = await mountAt(ReportDetailPage, '/reports/r1', DIRECTOR)
    expect(wrapper.find('h1').text()).toBe('重大事故隐患')
    expect(wrapper.text()).toContain('储罐区有刺鼻气味')
    expect(wrapper.text()).toContain('玄武区龙蟠路 1 号东侧')
    expect(wrapper.text()).toContain('发现时间')
    expect(wrapper.text()).toContain('玄武区')
    const photo = rest.find((r) => r.url === '/api/v1/reports/photos/k1')!
    expect(photo.headers['X-Anjian-CSRF']).toBe('1')
    expect(wrapper.find('ul[aria-label="举报照片"]').exists()).toBe(true)
    const [publicPart, internalPart] = wrapper.findAll('.report-timeline section')
    expect(publicPart!.text()).toContain('公开进度')
    expect(publicPart!.text()).not.toContain('先电话核实位置')
    expect(internalPart!.text()).toContain('先电话核实位置')
    expect(internalPart!.text()).toContain('insp@xuanwu.gov.cn')
    const actions = wrapper.find('[role="group"]').findAll('button').map((b) => b.text())
    expect(actions).toEqual(['受理', '不予受理', '指派承办人'])
    // The contact is offered, never fetched unasked.
    expect(buttonTexts(wrapper)).toContain('查看联系方式')
    expect(wrapper.text()).toContain('每次查看都会记入审计日志')
    expect(asked.some((a) => a.operation === 'GovHazardReportContact')).toBe(false)
  })

  it('fetches the contact only when the button is pressed', async () => {
    const assigned = detail({ status: 'INVESTIGATING', assignee: { userId: 'u1', email: 'insp@xuanwu.gov.cn' } })
    const { asked } = serve({
      GovHazardReport: { data: { hazardReport: assigned } },
      GovHazardReportContact: { data: { hazardReportContact: { name: '张三', mobile: '13800138000' } } },
    })
    const { wrapper } = await mountAt(ReportDetailPage, '/reports/r1', INSPECTOR, 'insp@xuanwu.gov.cn')
    expect(wrapper.text()).not.toContain('13800138000')
    expect(asked.filter((a) => a.operation === 'GovHazardReportContact')).toHaveLength(0)
    await wrapper.findAll('button').find((b) => b.text() === '查看联系方式')!.trigger('click')
    await flushPromises()
    const reads = asked.filter((a) => a.operation === 'GovHazardReportContact')
    expect(reads).toHaveLength(1)
    expect(reads[0]!.variables).toEqual({ id: 'r1' })
    expect(wrapper.text()).toContain('张三')
    expect(wrapper.find('a[href="tel:13800138000"]').exists()).toBe(true)
    // An inspector has no assign, extend or publish.
    const actions = wrapper.find('[role="group"]').findAll('button').map((b) => b.text())
    expect(actions).toEqual(['确认被举报单位', '记录调查', '办结', '撰写公开摘要'])
  })

  it('gives an analyst and a director above the handling division no actions and no contact', async () => {
    for (const memberships of [ANALYST, CITY_DIRECTOR]) {
      const { asked } = serve({ GovHazardReport: { data: { hazardReport: detail() } } })
      const { wrapper } = await mountAt(ReportDetailPage, '/reports/r1', memberships)
      expect(wrapper.text()).toContain('储罐区有刺鼻气味')
      expect(wrapper.find('[role="group"]').exists()).toBe(false)
      expect(buttonTexts(wrapper)).toEqual([])
      expect(wrapper.text()).toContain('仅办理区划的负责人和被指派的检查员可以查看')
      expect(wrapper.text()).toContain('您可以查看此举报')
      expect(asked.some((a) => a.operation === 'GovHazardReportContact')).toBe(false)
      wrapper.unmount()
      vi.unstubAllGlobals()
    }
  })

  it('shows an inspector not assigned no contact button, and an anonymous report none at all', async () => {
    serve({ GovHazardReport: { data: { hazardReport: detail({ assignee: { userId: 'u2', email: 'other@xuanwu.gov.cn' } }) } } })
    const other = await mountAt(ReportDetailPage, '/reports/r1', INSPECTOR, 'insp@xuanwu.gov.cn')
    expect(buttonTexts(other.wrapper)).not.toContain('查看联系方式')
    other.wrapper.unmount()
    vi.unstubAllGlobals()
    serve({ GovHazardReport: { data: { hazardReport: detail({ contactGiven: false, anonymous: true }) } } })
    const anonymous = await mountAt(ReportDetailPage, '/reports/r1', DIRECTOR)
    expect(buttonTexts(anonymous.wrapper)).not.toContain('查看联系方式')
    expect(anonymous.wrapper.text()).toContain('匿名举报')
  })

  it('shows the refusal of an accept in the dialog, and a rejection without a reason is not sent', async () => {
    const { asked } = serve({
      GovHazardReport: { data: { hazardReport: detail() } },
      GovSiteOptions: { data: { siteRisks: [{ site: { id: 's1', name: '东江一号厂区', tenant: { name: '东江精细化工有限公司' } } }] } },
      AcceptHazardReport: {
        data: null,
        errors: [{ message: 'report is ACCEPTED; allowed: RECEIVED', extensions: { code: 'BAD_USER_INPUT' } }],
      },
    })
    const { wrapper } = await mountAt(ReportDetailPage, '/reports/r1', DIRECTOR)
    const dialog = await openDialog(wrapper, '受理')
    expect([...dialog.querySelectorAll('select[name="site"] option')].map((o) => o.textContent?.trim())).toEqual([
      '暂不确认',
      '东江一号厂区（东江精细化工有限公司）',
    ])
    fill(dialog, 'select[name="site"]', 's1')
    ;(dialog.querySelector('button[type="submit"]') as HTMLButtonElement).click()
    await vi.waitFor(() => expect(dialog.querySelector('[role="alert"]')?.textContent).toContain('allowed: RECEIVED'))
    expect(asked.find((a) => a.operation === 'AcceptHazardReport')!.variables).toEqual({ id: 'r1', note: null, subjectSiteId: 's1' })
    expect(wrapper.find('h1').text()).toBe('重大事故隐患') // the page keeps the report

    ;(dialog.querySelector('.form__actions button') as HTMLButtonElement).click() // cancel
    await flushPromises()
    const rejecting = await openDialog(wrapper, '不予受理')
    fill(rejecting, 'textarea[name="note"]', '经核实不属于安全生产监管范围。')
    ;(rejecting.querySelector('button[type="submit"]') as HTMLButtonElement).click()
    await vi.waitFor(() => expect(rejecting.querySelector('[role="alert"]')?.textContent).toContain('请选择不予受理的理由'))
    expect(asked.some((a) => a.operation === 'RejectHazardReport')).toBe(false)
  })

  it('closes a report with the outcome and reward decision, and shows the report as answered', async () => {
    const investigating = detail({ status: 'INVESTIGATING', closeDueAt: iso(Date.now() + 100 * HOUR) })
    const closed = { ...investigating, status: 'CLOSED' as const, outcome: '责令停产整改', rewardEligible: true, feedbackDueAt: iso(Date.now() + 240 * HOUR) }
    const { asked } = serve({
      GovHazardReport: { data: { hazardReport: investigating } },
      CloseHazardReport: { data: { closeHazardReport: closed } },
    })
    const { wrapper } = await mountAt(ReportDetailPage, '/reports/r1', DIRECTOR)
    const dialog = await openDialog(wrapper, '办结')
    ;(dialog.querySelector('button[type="submit"]') as HTMLButtonElement).click()
    await vi.waitFor(() => expect(dialog.querySelector('[role="alert"]')?.textContent).toContain('请填写办理结果'))
    fill(dialog, 'textarea[name="outcome"]', '责令停产整改')
    fill(dialog, 'select[name="reward"]', 'yes')
    ;(dialog.querySelector('button[type="submit"]') as HTMLButtonElement).click()
    await vi.waitFor(() => expect(wrapper.text()).toContain('已完成：办结。'))
    expect(asked.find((a) => a.operation === 'CloseHazardReport')!.variables).toEqual({
      id: 'r1',
      outcome: '责令停产整改',
      rewardEligible: true,
    })
    expect(wrapper.text()).toContain('责令停产整改')
    expect(wrapper.text()).toContain('符合奖励条件')
    expect(wrapper.text()).toContain('反馈期限')
    expect(wrapper.find('[role="group"]').findAll('button').map((b) => b.text())).toEqual(['记录反馈', '撰写公开摘要'])
  })

  it('assigns from the handling division’s inspectors', async () => {
    const assigned = detail({ assignee: { userId: 'u7', email: 'insp@xuanwu.gov.cn' } })
    const { asked } = serve({
      GovHazardReport: { data: { hazardReport: detail() } },
      GovReportAssignees: { data: { reportAssignees: [{ userId: 'u7', email: 'insp@xuanwu.gov.cn' }] } },
      AssignHazardReport: { data: { assignHazardReport: assigned } },
    })
    const { wrapper } = await mountAt(ReportDetailPage, '/reports/r1', DIRECTOR)
    const dialog = await openDialog(wrapper, '指派承办人')
    expect(asked.find((a) => a.operation === 'GovReportAssignees')!.variables).toEqual({ reportId: 'r1' })
    fill(dialog, 'select[name="assignee"]', 'u7')
    ;(dialog.querySelector('button[type="submit"]') as HTMLButtonElement).click()
    await vi.waitFor(() => expect(asked.some((a) => a.operation === 'AssignHazardReport')).toBe(true))
    expect(asked.find((a) => a.operation === 'AssignHazardReport')!.variables).toEqual({ id: 'r1', assigneeUserId: 'u7' })
  })

  it('says a report outside the jurisdiction is not found', async () => {
    serve({ GovHazardReport: { data: null, errors: [{ message: 'report not found', extensions: { code: 'NOT_FOUND' } }] } })
    const { wrapper } = await mountAt(ReportDetailPage, '/reports/elsewhere', DIRECTOR)
    expect(wrapper.text()).toContain('该举报不存在或不在您的辖区内')
    expect(wrapper.find('h1').exists()).toBe(false)
  })
})
