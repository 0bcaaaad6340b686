// Work orders as each role meets them: the list with its filters and pages, creating one, the
// detail with the moves the server allows, ticking, commenting, and the server's refusals.
import { flushPromises } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'

import AlarmsPage from '@/app/pages/AlarmsPage.vue'
import WorkOrderDetailPage from '@/app/pages/WorkOrderDetailPage.vue'
import WorkOrdersPage from '@/app/pages/WorkOrdersPage.vue'
import type { WorkOrderDetail, WorkOrderSummary } from '@/app/queries/work-orders'

import { graphqlFetch } from './graphql-mock'
import { buttons, click, fill, gqlError, mountPage, settle, shown, submit, TENANT } from './page-harness'

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

const SITE = { id: 'site-1', name: '一号厂区', tenantId: TENANT }

function summary(id: string, overrides: Partial<WorkOrderSummary> = {}): WorkOrderSummary {
  return {
    id,
    siteId: 'site-1',
    title: `工单 ${id}`,
    status: 'OPEN',
    dueAt: null,
    overdue: false,
    createdAt: '2026-12-02T08:00:00.000Z',
    alarmId: null,
    incidentId: null,
    site: SITE,
    ...overrides,
  }
}

function detail(overrides: Partial<WorkOrderDetail> = {}): WorkOrderDetail {
  return {
    ...summary('wo-1'),
    description: '处理罐区泄漏',
    assigneeUserId: null,
    assigneeWorkerId: null,
    createdBy: 'u-1',
    updatedAt: '2026-12-02T08:00:00.000Z',
    checklist: [
      { index: 0, text: '关闭阀门', done: true, doneBy: 'u-1', doneAt: '2026-12-02T08:10:00.000Z' },
      { index: 1, text: '复测浓度', done: false, doneBy: null, doneAt: null },
    ],
    timeline: [{ id: 'e1', kind: 'CREATED', at: '2026-12-02T08:00:00.000Z', actor: 'u-1', note: null, fromStatus: null, toStatus: null, itemIndex: null, itemDone: null, changedFields: [] }],
    comments: [],
    alarm: {
      id: 'al-1',
      severity: 'RED',
      status: 'CLOSED',
      raisedAt: '2026-12-02T07:50:00.000Z',
      closedAt: '2026-12-02T09:00:00.000Z',
      verdict: 'FALSE_POSITIVE',
      cause: '探头受潮',
      sensor: { id: 's1', code: 'GT-101', unit: '%LEL' },
    },
    incident: null,
    ...overrides,
  }
}

const RULES = { data: { ruleReviewStats: [{ ruleId: 'abcdef0123456789', closed: 10, falsePositives: 4, rate: 0.4 }] } }

describe('WorkOrdersPage', () => {
  it('shows a viewer the orders and the false-positive table, and no create control', async () => {
    graphqlFetch({
      ConsoleWorkOrders: { data: { workOrders: [summary('1', { overdue: true }), summary('2')] } },
      ConsoleRuleReviewStats: RULES,
    })
    const { wrapper } = await mountPage(WorkOrdersPage, 'viewer', '/work-orders')
    expect(wrapper.findAll('li.card')).toHaveLength(2)
    expect(wrapper.text()).toContain('已超期')
    expect(wrapper.text()).toContain('40.0%')
    expect(buttons('新建工单')).toHaveLength(0)
  })

  it('filters by status and site through the address and pages by cursor', async () => {
    const page = Array.from({ length: 21 }, (_, i) => summary(`w${i}`))
    const { asked } = graphqlFetch({
      ConsoleWorkOrders: (variables) => ({ data: { workOrders: variables.after ? [summary('last')] : page } }),
      ConsoleRuleReviewStats: RULES,
    })
    const { wrapper } = await mountPage(WorkOrdersPage, 'operator', '/work-orders?status=IN_PROGRESS&site=site-2')
    const list = asked.filter((a) => a.operation === 'ConsoleWorkOrders')
    expect(list[0]!.variables).toEqual({ siteId: 'site-2', status: 'IN_PROGRESS', first: 21, after: null })
    expect(asked.find((a) => a.operation === 'ConsoleRuleReviewStats')!.variables).toEqual({ siteId: 'site-2' })
    expect(wrapper.findAll('li.card')).toHaveLength(20)
    await click('下一页')
    expect(asked.at(-1)!.variables).toMatchObject({ after: 'w19', first: 21 })
    expect(wrapper.findAll('li.card')).toHaveLength(1)
  })

  it('creates a standalone order for the site with its checklist and opens it', async () => {
    const { asked } = graphqlFetch({
      ConsoleWorkOrders: { data: { workOrders: [] } },
      ConsoleRuleReviewStats: RULES,
      ConsoleOpenIncidents: { data: { alarmIncidents: [{ id: 'inc-1', severity: 'RED', alarmCount: 3, openedAt: '2026-12-02T07:00:00.000Z' }] } },
      ConsoleWorkers: { data: { workers: [{ id: 'w-7', name: '王*', mobile: null, idNumber: null, employeeNumber: 'E-7', siteId: null }] } },
      CreateWorkOrder: { data: { createWorkOrder: { id: 'new-1' } } },
    })
    const { router } = await mountPage(WorkOrdersPage, 'operator', '/work-orders')
    await click('新建工单')
    await shown('input[name="title"]')
    fill('input[name="title"]', '  检查可燃气体探头 ')
    fill('textarea[name="checklist"]', '断电\n\n校准\n')
    await submit('.el-dialog form')
    expect(asked.find((a) => a.operation === 'CreateWorkOrder')!.variables).toEqual({
      title: '检查可燃气体探头',
      siteId: 'site-1',
      alarmId: null,
      incidentId: null,
      description: null,
      assigneeUserId: null,
      assigneeWorkerId: null,
      dueAt: null,
      checklist: ['断电', '校准'],
    })
    // An operator reads workers, not members: those are the assignees offered.
    expect(asked.some((a) => a.operation === 'ConsoleMembers')).toBe(false)
    expect(router.currentRoute.value.fullPath).toBe('/work-orders/new-1')
  })

  it('creates an order from an open incident, assigned to a worker', async () => {
    const { asked } = graphqlFetch({
      ConsoleWorkOrders: { data: { workOrders: [] } },
      ConsoleRuleReviewStats: RULES,
      ConsoleOpenIncidents: { data: { alarmIncidents: [{ id: 'inc-1', severity: 'RED', alarmCount: 3, openedAt: '2026-12-02T07:00:00.000Z' }] } },
      ConsoleWorkers: { data: { workers: [{ id: 'w-7', name: '王*', mobile: null, idNumber: null, employeeNumber: 'E-7', siteId: null }] } },
      CreateWorkOrder: gqlError('the due time is in the past', 'BAD_USER_INPUT'),
    })
    await mountPage(WorkOrdersPage, 'operator', '/work-orders')
    await click('新建工单')
    await shown('select[name="incident"] option[value="inc-1"]')
    await shown('select[name="assignee"] option[value="worker:w-7"]')
    fill('select[name="incident"]', 'inc-1')
    fill('select[name="assignee"]', 'worker:w-7')
    fill('input[name="title"]', '事件处置')
    await submit('.el-dialog form')
    expect(asked.find((a) => a.operation === 'CreateWorkOrder')!.variables).toMatchObject({
      incidentId: 'inc-1',
      siteId: null,
      alarmId: null,
      assigneeUserId: null,
      assigneeWorkerId: 'w-7',
    })
    expect(document.body.textContent).toContain('未完成：the due time is in the past')
  })
})

describe('WorkOrderDetailPage', () => {
  it("shows the alarm's review beside it, and a viewer no moves, no ticking, no comment", async () => {
    graphqlFetch({ ConsoleWorkOrder: { data: { workOrder: detail() } } })
    const { wrapper } = await mountPage(WorkOrderDetailPage, 'viewer', '/work-orders/wo-1')
    expect(wrapper.text()).toContain('误报')
    expect(wrapper.text()).toContain('探头受潮')
    expect(buttons('开始处理')).toHaveLength(0)
    expect(wrapper.findAll('input[type="checkbox"]').every((box) => (box.element as HTMLInputElement).disabled)).toBe(true)
    expect(wrapper.find('textarea[name="comment"]').exists()).toBe(false)
  })

  it('offers an operator start and cancel on an open order, and never verify', async () => {
    graphqlFetch({ ConsoleWorkOrder: { data: { workOrder: detail() } } })
    await mountPage(WorkOrderDetailPage, 'operator', '/work-orders/wo-1')
    expect(buttons('开始处理')).toHaveLength(1)
    expect(buttons('取消工单')).toHaveLength(1)
    expect(buttons('验收')).toHaveLength(0)
  })

  it('offers verify to a safety manager on a done order only', async () => {
    graphqlFetch({ ConsoleWorkOrder: { data: { workOrder: detail({ status: 'DONE' }) } } })
    await mountPage(WorkOrderDetailPage, 'safety_manager', '/work-orders/wo-1')
    expect(buttons('验收')).toHaveLength(1)
    expect(buttons('开始处理')).toHaveLength(0)
  })

  it("shows the server's message when done is refused for open checklist items", async () => {
    const { asked } = graphqlFetch({
      ConsoleWorkOrder: { data: { workOrder: detail({ status: 'IN_PROGRESS' }) } },
      SetWorkOrderStatus: gqlError('the checklist is not finished: item(s) 2 still open', 'BAD_USER_INPUT'),
    })
    const { wrapper } = await mountPage(WorkOrderDetailPage, 'operator', '/work-orders/wo-1')
    expect(wrapper.text()).toContain('还有 1 项检查项未完成')
    await click('标记完成')
    await submit('.status-form')
    expect(asked.find((a) => a.operation === 'SetWorkOrderStatus')!.variables).toEqual({ id: 'wo-1', status: 'DONE', note: null })
    expect(document.body.textContent).toContain('未完成：the checklist is not finished: item(s) 2 still open')
  })

  it('asks a note before cancelling, then sends it', async () => {
    const { asked } = graphqlFetch({
      ConsoleWorkOrder: { data: { workOrder: detail() } },
      SetWorkOrderStatus: (v) => ({ data: { setWorkOrderStatus: detail({ status: v.status as 'CANCELLED' }) } }),
    })
    const { wrapper } = await mountPage(WorkOrderDetailPage, 'operator', '/work-orders/wo-1')
    await click('取消工单')
    await submit('.status-form')
    expect(document.body.textContent).toContain('取消工单需要说明原因。')
    expect(asked.some((a) => a.operation === 'SetWorkOrderStatus')).toBe(false)
    fill('textarea[name="status-note"]', '重复工单')
    await submit('.status-form')
    expect(asked.find((a) => a.operation === 'SetWorkOrderStatus')!.variables).toEqual({ id: 'wo-1', status: 'CANCELLED', note: '重复工单' })
    expect(wrapper.text()).toContain('已取消')
  })

  it('ticks a checklist item and comments through the mutations', async () => {
    const { asked } = graphqlFetch({
      ConsoleWorkOrder: { data: { workOrder: detail({ status: 'IN_PROGRESS' }) } },
      CheckWorkOrderItem: { data: { checkWorkOrderItem: detail({ status: 'IN_PROGRESS' }) } },
      CommentWorkOrder: { data: { commentWorkOrder: detail({ status: 'IN_PROGRESS' }) } },
    })
    const { wrapper } = await mountPage(WorkOrderDetailPage, 'operator', '/work-orders/wo-1')
    await wrapper.findAll('input[type="checkbox"]')[1]!.setValue(true)
    await flushPromises()
    expect(asked.find((a) => a.operation === 'CheckWorkOrderItem')!.variables).toEqual({ id: 'wo-1', index: 1, done: true })
    fill('textarea[name="comment"]', '已到现场')
    await flushPromises()
    await submit('.comment-form')
    expect(asked.find((a) => a.operation === 'CommentWorkOrder')!.variables).toEqual({ id: 'wo-1', text: '已到现场', photos: null })
  })

  it('edits the title only: nothing else is sent, and the page shows the new title', async () => {
    const { asked } = graphqlFetch({
      ConsoleWorkOrder: { data: { workOrder: detail({ dueAt: '2020-01-01T00:00:00.000Z' }) } },
      ConsoleMembers: { data: { members: [] } },
      ConsoleWorkers: { data: { workers: [] } },
      UpdateWorkOrder: (v) => ({ data: { updateWorkOrder: detail({ title: v.title as string }) } }),
    })
    const { wrapper } = await mountPage(WorkOrderDetailPage, 'operator', '/work-orders/wo-1')
    await click('编辑')
    await settle()
    fill('.edit-work-order input[name="title"]', '更换罐区探头')
    await submit('.edit-work-order')
    // The overdue due time is left as it was: sending it again would be refused as past.
    expect(asked.find((a) => a.operation === 'UpdateWorkOrder')!.variables).toEqual({ id: 'wo-1', title: '更换罐区探头' })
    expect(wrapper.find('h1').text()).toBe('更换罐区探头')
  })

  it('refuses an empty title before sending, and says when nothing changed', async () => {
    const { asked } = graphqlFetch({
      ConsoleWorkOrder: { data: { workOrder: detail() } },
      ConsoleMembers: { data: { members: [] } },
      ConsoleWorkers: { data: { workers: [] } },
    })
    await mountPage(WorkOrderDetailPage, 'operator', '/work-orders/wo-1')
    await click('编辑')
    await settle()
    await submit('.edit-work-order')
    expect(document.body.textContent).toContain('没有改动。')
    fill('.edit-work-order input[name="title"]', '  ')
    await submit('.edit-work-order')
    expect(document.body.textContent).toContain('请填写标题')
    expect(asked.some((a) => a.operation === 'UpdateWorkOrder')).toBe(false)
  })

  it('offers no edit to a viewer, nor on a finished order', async () => {
    graphqlFetch({ ConsoleWorkOrder: { data: { workOrder: detail() } } })
    await mountPage(WorkOrderDetailPage, 'viewer', '/work-orders/wo-1')
    expect(buttons('编辑')).toHaveLength(0)
    document.body.innerHTML = ''
    graphqlFetch({ ConsoleWorkOrder: { data: { workOrder: detail({ status: 'DONE' }) } } })
    await mountPage(WorkOrderDetailPage, 'safety_manager', '/work-orders/wo-1')
    expect(buttons('编辑')).toHaveLength(0)
  })

  it('says a refusal is a refusal when the server answers FORBIDDEN', async () => {
    graphqlFetch({ ConsoleWorkOrder: gqlError('not allowed to read work orders', 'FORBIDDEN') })
    await mountPage(WorkOrderDetailPage, 'viewer', '/work-orders/wo-1')
    expect(document.body.textContent).toContain('无权执行此操作：not allowed to read work orders')
  })
})

describe('work orders from the alarm console', () => {
  const alarm = {
    id: 'al-9',
    severity: 'RED',
    status: 'ACKNOWLEDGED',
    acknowledged: true,
    level: 'HH',
    value: 40,
    raisedAt: '2026-12-02T12:00:00.000Z',
    acknowledgedAt: null,
    clearedAt: null,
    closedAt: null,
    verdict: null,
    cause: null,
    silenced: false,
    sensor: { id: 's9', code: 'GT-9', kind: 'combustible_gas', unit: '%LEL', zone: '罐区' },
    site: SITE,
  }

  it('is offered to an operator and creates the order from the alarm', async () => {
    const { asked } = graphqlFetch({
      ConsoleAlarms: { data: { alarms: [alarm] } },
      ConsoleWorkers: { data: { workers: [] } },
      CreateWorkOrder: { data: { createWorkOrder: { id: 'wo-9' } } },
    })
    const { router } = await mountPage(AlarmsPage, 'operator', '/alarms')
    document.querySelector<HTMLButtonElement>('button[aria-label="建工单：报警 GT-9"]')!.click()
    await shown('input[name="title"]')
    await settle()
    expect(document.querySelector<HTMLInputElement>('input[name="title"]')!.value).toBe('处置报警 GT-9')
    await submit('.el-dialog form')
    expect(asked.find((a) => a.operation === 'CreateWorkOrder')!.variables).toMatchObject({
      title: '处置报警 GT-9',
      alarmId: 'al-9',
      siteId: null,
      incidentId: null,
    })
    expect(router.currentRoute.value.fullPath).toBe('/work-orders/wo-9')
  })

  it('is not offered to a viewer', async () => {
    graphqlFetch({ ConsoleAlarms: { data: { alarms: [alarm] } } })
    await mountPage(AlarmsPage, 'viewer', '/alarms')
    expect(document.querySelector('button[aria-label="建工单：报警 GT-9"]')).toBeNull()
  })
})
