// The sign-in form as a person meets it: labelled fields, one button, and the server's refusal
// shown in words.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'

import SignInPage from '@/shared/components/SignInPage.vue'
import { createPortalI18n } from '@/shared/i18n'

async function mountSignIn(locale: 'zh-CN' | 'en') {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/login', name: 'login', component: SignInPage, props: { portal: 'app' } },
      { path: '/', name: 'home', component: { render: () => 'home' } },
      { path: '/alarms/:id', name: 'alarm', component: { render: () => 'alarm' } },
      { path: '/forgot-password', name: 'forgot-password', component: { render: () => 'forgot' } },
    ],
  })
  await router.push('/login?next=/alarms/7')
  const wrapper = mount(SignInPage, {
    props: { portal: 'app' },
    global: { plugins: [createPinia(), createPortalI18n(locale), router] },
    attachTo: document.body,
  })
  return { wrapper, router }
}

function labelled(wrapper: Awaited<ReturnType<typeof mountSignIn>>['wrapper'], text: string) {
  const label = wrapper.findAll('label').filter((l) => l.text() === text)
  expect(label).toHaveLength(1)
  const id = label[0]!.attributes('for')
  return wrapper.find<HTMLInputElement>(`input#${id}`)
}

function answer(body: unknown): void {
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => new Response(JSON.stringify(body), { headers: { 'Content-Type': 'application/json' } })),
  )
}

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('SignInPage', () => {
  it('labels its two fields and its button in Chinese', async () => {
    const { wrapper } = await mountSignIn('zh-CN')
    expect(labelled(wrapper, '邮箱').exists()).toBe(true)
    expect(labelled(wrapper, '密码').attributes('type')).toBe('password')
    expect(wrapper.findAll('input')).toHaveLength(2)
    expect(wrapper.findAll('button').filter((b) => b.text() === '登录')).toHaveLength(1)
  })

  it('links a forgotten password to its form, carrying the address typed', async () => {
    const { wrapper } = await mountSignIn('zh-CN')
    const email = labelled(wrapper, '邮箱')
    await email.setValue('a@example.cn')
    const link = wrapper.findAll('a').find((a) => a.text() === '忘记密码？')
    expect(link?.attributes('href')).toBe('/forgot-password?email=a@example.cn')
  })

  it('labels them in English', async () => {
    const { wrapper } = await mountSignIn('en')
    expect(labelled(wrapper, 'Email').exists()).toBe(true)
    expect(labelled(wrapper, 'Password').exists()).toBe(true)
    expect(wrapper.findAll('button').filter((b) => b.text() === 'Sign in')).toHaveLength(1)
  })

  it("shows the server's refusal and clears the password", async () => {
    answer({ data: null, errors: [{ message: 'bad', extensions: { code: 'UNAUTHENTICATED' } }] })
    const { wrapper } = await mountSignIn('zh-CN')
    await labelled(wrapper, '邮箱').setValue('op@example.cn')
    await labelled(wrapper, '密码').setValue('wrong')
    await wrapper.find('form').trigger('submit')
    await flushPromises()
    expect(wrapper.text()).toContain('邮箱或密码不正确')
    expect(labelled(wrapper, '密码').element.value).toBe('')
    const [url, init] = vi.mocked(fetch).mock.calls[0]!
    expect(url).toBe('/graphql')
    expect(init?.credentials).toBe('same-origin')
    expect((init?.headers as Record<string, string>)['X-Anjian-CSRF']).toBe('1')
  })

  it('goes where the person was going after signing in', async () => {
    answer({ data: { signIn: { me: { email: 'op@example.cn', memberships: [{ domain: 'tenant:t', role: 'operator' }] } } } })
    const { wrapper, router } = await mountSignIn('zh-CN')
    await labelled(wrapper, '邮箱').setValue('op@example.cn')
    await labelled(wrapper, '密码').setValue('right')
    await wrapper.find('form').trigger('submit')
    await flushPromises()
    expect(router.currentRoute.value.fullPath).toBe('/alarms/7')
  })

  it('asks for both fields before asking the server', async () => {
    answer({})
    const { wrapper } = await mountSignIn('en')
    await wrapper.find('form').trigger('submit')
    await flushPromises()
    expect(wrapper.text()).toContain('Enter your email and password.')
    expect(fetch).not.toHaveBeenCalled()
  })
})
