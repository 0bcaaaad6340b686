// People: an owner or safety manager sees the members, invites (and sees only that the
// invitation is pending), removes a grantable member; an operator sees the workers as the
// server masks them and nothing of the members; adding a worker sends what was typed.
import { afterEach, describe, expect, it, vi } from 'vitest'

import PeoplePage from '@/app/pages/PeoplePage.vue'
import type { Member, Worker } from '@/app/queries/people'

import { graphqlFetch } from './graphql-mock'
import { buttons, click, fill, gqlError, mountPage, shown, submit, TENANT } from './page-harness'

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

const member = (email: string, role: string): Member => ({
  userId: `id-${email}`,
  email,
  domain: `tenant:${TENANT}`,
  role,
  since: '2026-11-01T00:00:00.000Z',
  disabled: false,
})

const MEMBERS = {
  data: {
    members: [member('owner@example.cn', 'owner'), member('safety_manager@example.cn', 'safety_manager'), member('op@example.cn', 'operator')],
  },
}

const worker = (id: string): Worker => ({ id, name: '张*', mobile: '138****0001', idNumber: null, employeeNumber: `E-${id}`, siteId: null })
const WORKERS = { data: { workers: [worker('w1')] } }

describe('PeoplePage', () => {
  it('shows an operator the masked workers, and no members, no invite, no add', async () => {
    const { asked } = graphqlFetch({ ConsoleWorkers: WORKERS })
    const { wrapper } = await mountPage(PeoplePage, 'operator', '/people')
    expect(asked.map((a) => a.operation)).toEqual(['ConsoleWorkers'])
    expect(wrapper.text()).toContain('138****0001')
    expect(wrapper.text()).not.toContain('成员')
    expect(buttons('发送邀请')).toHaveLength(0)
    expect(buttons('添加')).toHaveLength(0)
  })

  it('tells a viewer it may not see people, and asks the server nothing', async () => {
    const { asked } = graphqlFetch({})
    const { wrapper } = await mountPage(PeoplePage, 'viewer', '/people')
    expect(asked).toEqual([])
    expect(wrapper.text()).toContain('您的角色不能查看人员。')
  })

  it('lets a safety manager invite only operators and viewers, and shows a pending invitation, never a token', async () => {
    const { asked } = graphqlFetch({
      ConsoleMembers: MEMBERS,
      ConsoleWorkers: WORKERS,
      InviteUser: (v) => ({ data: { inviteUser: { email: v.email, domain: v.domain, role: v.role, expiresAt: '2026-12-09T00:00:00.000Z' } } }),
    })
    const { wrapper } = await mountPage(PeoplePage, 'safety_manager', '/people')
    const roles = [...document.querySelectorAll<HTMLOptionElement>('select[name="invite-role"] option')].map((o) => o.value)
    expect(roles).toEqual(['operator', 'viewer'])
    fill('input[name="invite-email"]', 'nope')
    await submit('.invite')
    expect(wrapper.text()).toContain('请填写有效的邮箱地址。')
    fill('input[name="invite-email"]', ' new@example.cn ')
    fill('select[name="invite-role"]', 'viewer')
    await submit('.invite')
    expect(asked.find((a) => a.operation === 'InviteUser')!.variables).toEqual({
      domain: `tenant:${TENANT}`,
      email: 'new@example.cn',
      role: 'viewer',
    })
    expect(asked.find((a) => a.operation === 'InviteUser')!.query).not.toContain('token')
    expect(wrapper.text()).toContain('已向 new@example.cn 发出邀请（只读），等待对方接受。')
  })

  it('offers removing only the members the role may take away, after confirming', async () => {
    const { asked } = graphqlFetch({
      ConsoleMembers: MEMBERS,
      ConsoleWorkers: WORKERS,
      RemoveMember: { data: { removeMember: true } },
    })
    await mountPage(PeoplePage, 'safety_manager', '/people')
    expect(document.querySelector('button[aria-label="移除成员 owner@example.cn"]')).toBeNull()
    expect(document.querySelector('button[aria-label="移除成员 safety_manager@example.cn"]')).toBeNull()
    document.querySelector<HTMLButtonElement>('button[aria-label="移除成员 op@example.cn"]')!.click()
    await shown('.confirm-form')
    await submit('.confirm-form')
    expect(asked.find((a) => a.operation === 'RemoveMember')!.variables).toEqual({ domain: `tenant:${TENANT}`, userId: 'id-op@example.cn' })
    // Disabling accounts is the platform administrator's: no tenant role is offered it.
    expect(buttons('停用账号')).toHaveLength(0)
  })

  it('adds a worker with what was typed and shows the server refusing a bad mobile', async () => {
    const { asked } = graphqlFetch({
      ConsoleMembers: MEMBERS,
      ConsoleWorkers: WORKERS,
      CreateWorker: gqlError("not a mainland mobile number: '123'", 'BAD_USER_INPUT'),
    })
    const { wrapper } = await mountPage(PeoplePage, 'owner', '/people')
    await submit('.worker-form')
    expect(wrapper.text()).toContain('请填写姓名和工号。')
    fill('input[name="worker-name"]', '李四')
    fill('input[name="worker-number"]', 'E-200')
    fill('input[name="worker-mobile"]', '123')
    fill('select[name="worker-site"]', 'site-2')
    await submit('.worker-form')
    expect(asked.find((a) => a.operation === 'CreateWorker')!.variables).toEqual({
      tenantId: TENANT,
      name: '李四',
      employeeNumber: 'E-200',
      mobile: '123',
      idNumber: null,
      siteId: 'site-2',
    })
    expect(wrapper.text()).toContain("未完成：not a mainland mobile number: '123'")
  })

  it('shows FORBIDDEN from the server as a refusal', async () => {
    graphqlFetch({
      ConsoleMembers: MEMBERS,
      ConsoleWorkers: WORKERS,
      InviteUser: gqlError('a safety_manager may not grant the role owner', 'FORBIDDEN'),
    })
    const { wrapper } = await mountPage(PeoplePage, 'safety_manager', '/people')
    fill('input[name="invite-email"]', 'x@example.cn')
    await click('发送邀请')
    expect(wrapper.text()).toContain('无权执行此操作：a safety_manager may not grant the role owner')
  })
})
