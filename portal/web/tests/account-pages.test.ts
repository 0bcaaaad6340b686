// The pages around sign-in as a person meets them: a forgotten password always gets the same
// answer, a reset or an invitation link that is gone says so, a weak password shows the
// server's reason, an invitee without an account sets a password, a signed-in one just accepts.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Component } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'

import AcceptInvitationPage from '@/shared/components/AcceptInvitationPage.vue'
import ChangePasswordPage from '@/shared/components/ChangePasswordPage.vue'
import ForgotPasswordPage from '@/shared/components/ForgotPasswordPage.vue'
import ResetPasswordPage from '@/shared/components/ResetPasswordPage.vue'
import { createPortalI18n } from '@/shared/i18n'

import { graphqlFetch } from './app/graphql-mock'
import { gqlError, settle } from './app/page-harness'

const stub = { render: () => 'page' }

async function mountAt(page: Component, path: string) {
  const pinia = createPinia()
  setActivePinia(pinia)
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/login', name: 'login', component: stub },
      { path: '/', name: 'home', component: stub },
      { path: '/forgot-password', name: 'forgot-password', component: stub },
      { path: '/under-test', component: stub },
    ],
  })
  await router.push(path)
  const wrapper = mount(page, {
    props: { portal: 'app' },
    global: { plugins: [pinia, createPortalI18n('zh-CN'), router] },
    attachTo: document.body,
  })
  await settle()
  return { wrapper, router }
}

function type(wrapper: Awaited<ReturnType<typeof mountAt>>['wrapper'], name: string, value: string): void {
  const input = wrapper.find<HTMLInputElement>(`input[name="${name}"]`)
  expect(input.exists(), name).toBe(true)
  input.element.value = value
  input.element.dispatchEvent(new Event('input'))
}

async function send(wrapper: Awaited<ReturnType<typeof mountAt>>['wrapper']): Promise<void> {
  await wrapper.find('form').trigger('submit')
  await settle()
}

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('ForgotPasswordPage', () => {
  it('answers the same whether or not the address has an account', async () => {
    const { asked } = graphqlFetch({ RequestPasswordReset: { data: { requestPasswordReset: true } } })
    const { wrapper } = await mountAt(ForgotPasswordPage, '/under-test?email=a@example.cn')
    await send(wrapper)
    expect(asked[0]!.variables).toEqual({ email: 'a@example.cn' })
    expect(wrapper.text()).toContain('如果该邮箱有账号，重设密码的邮件已在路上')
  })

  it('says how long to wait when asked too often', async () => {
    graphqlFetch({
      RequestPasswordReset: { errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 30 } }], data: null },
    })
    const { wrapper } = await mountAt(ForgotPasswordPage, '/under-test')
    type(wrapper, 'email', 'a@example.cn')
    await send(wrapper)
    expect(wrapper.text()).toContain('30')
    expect(wrapper.text()).not.toContain('邮件已在路上')
  })
})

describe('ResetPasswordPage', () => {
  it('checks the two passwords agree before asking', async () => {
    const { asked } = graphqlFetch({})
    const { wrapper } = await mountAt(ResetPasswordPage, '/under-test?token=tok')
    type(wrapper, 'new-password', 'Kettle-Harbour-91')
    type(wrapper, 'repeat-password', 'Kettle-Harbour-19')
    await send(wrapper)
    expect(wrapper.text()).toContain('两次输入的密码不一致')
    expect(asked).toHaveLength(0)
  })

  it("shows the server's reason for a weak password, then a link that is gone", async () => {
    let answer = gqlError('passwords need at least 8 characters', 'BAD_USER_INPUT')
    const { asked } = graphqlFetch({ ResetPassword: () => answer })
    const { wrapper } = await mountAt(ResetPasswordPage, '/under-test?token=tok-1')
    type(wrapper, 'new-password', 'short')
    type(wrapper, 'repeat-password', 'short')
    await send(wrapper)
    expect(asked[0]!.variables).toEqual({ token: 'tok-1', password: 'short' })
    expect(wrapper.text()).toContain('passwords need at least 8 characters')
    answer = gqlError('the reset link is invalid, was used, or has expired; ask for a new one', 'NOT_FOUND')
    await send(wrapper)
    expect(wrapper.text()).toContain('链接无效、已使用或已过期')
  })

  it('says so when the address has no token', async () => {
    graphqlFetch({})
    const { wrapper } = await mountAt(ResetPasswordPage, '/under-test')
    expect(wrapper.text()).toContain('缺少令牌')
    expect(wrapper.find('form').exists()).toBe(false)
  })
})

describe('AcceptInvitationPage', () => {
  it('creates the account of an invitee who is not signed in', async () => {
    const { asked } = graphqlFetch({
      Me: gqlError('not signed in', 'UNAUTHENTICATED'),
      AcceptInvitation: { data: { acceptInvitation: true } },
    })
    const { wrapper } = await mountAt(AcceptInvitationPage, '/under-test?token=inv-1')
    type(wrapper, 'new-password', 'Kettle-Harbour-91')
    type(wrapper, 'repeat-password', 'Kettle-Harbour-91')
    await send(wrapper)
    expect(asked.find((a) => a.operation === 'AcceptInvitation')!.variables).toEqual({ token: 'inv-1', password: 'Kettle-Harbour-91' })
    expect(wrapper.text()).toContain('账号已创建，邀请已接受，请登录')
  })

  it('tells an invitee with an account to sign in first', async () => {
    graphqlFetch({
      Me: gqlError('not signed in', 'UNAUTHENTICATED'),
      AcceptInvitation: gqlError('this address already has an account: sign in as it, then accept the invitation', 'UNAUTHENTICATED'),
    })
    const { wrapper } = await mountAt(AcceptInvitationPage, '/under-test?token=inv-1')
    type(wrapper, 'new-password', 'Kettle-Harbour-91')
    type(wrapper, 'repeat-password', 'Kettle-Harbour-91')
    await send(wrapper)
    expect(wrapper.text()).toContain('this address already has an account')
  })

  it('lets a signed-in invitee accept without a password', async () => {
    const { asked } = graphqlFetch({
      Me: { data: { me: { email: 'new@example.cn', memberships: [] } } },
      AcceptInvitation: { data: { acceptInvitation: true } },
    })
    const { wrapper } = await mountAt(AcceptInvitationPage, '/under-test?token=inv-2')
    expect(wrapper.text()).toContain('new@example.cn')
    expect(wrapper.find('input[name="new-password"]').exists()).toBe(false)
    await wrapper.findAll('button').find((b) => b.text() === '接受邀请')!.trigger('click')
    await settle()
    expect(asked.find((a) => a.operation === 'AcceptInvitation')!.variables).toEqual({ token: 'inv-2', password: null })
    expect(wrapper.text()).toContain('已接受邀请')
  })
})

describe('ChangePasswordPage', () => {
  it('changes the password with the current one, and shows a refusal', async () => {
    let answer: unknown = { data: { changePassword: true } }
    const { asked } = graphqlFetch({ ChangePassword: () => answer })
    const { wrapper } = await mountAt(ChangePasswordPage, '/under-test')
    type(wrapper, 'current-password', 'Old-Harbour-77')
    type(wrapper, 'new-password', 'Kettle-Harbour-91')
    type(wrapper, 'repeat-password', 'Kettle-Harbour-91')
    await send(wrapper)
    expect(asked[0]!.variables).toEqual({ current: 'Old-Harbour-77', new: 'Kettle-Harbour-91' })
    expect(wrapper.text()).toContain('密码已修改')
    answer = gqlError('this password is on the list of common or breached passwords; choose another', 'BAD_USER_INPUT')
    type(wrapper, 'current-password', 'Kettle-Harbour-91')
    type(wrapper, 'new-password', 'password123')
    type(wrapper, 'repeat-password', 'password123')
    await send(wrapper)
    expect(wrapper.text()).toContain('common or breached passwords')
    await flushPromises()
  })
})
