// A request without an answer raises the connection banner at once and the next answered one
// lowers it; a session the server ended sends the page to sign-in and back afterwards.
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'

import SignedInLayout from '@/shared/components/SignedInLayout.vue'
import { request } from '@/shared/graphql/client'
import { createPortalI18n } from '@/shared/i18n'
import { useConnectionStore, watchConnection } from '@/shared/session/connection'
import { installSessionGuard } from '@/shared/session/guard'
import { useSessionStore } from '@/shared/session/store'

const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { 'Content-Type': 'application/json' } })
const stops: (() => void)[] = []

afterEach(() => {
  for (const stop of stops.splice(0)) stop()
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('the connection banner', () => {
  it('shows when a request gets no answer and clears when one is answered', async () => {
    const pinia = createPinia()
    setActivePinia(pinia)
    const connection = useConnectionStore()
    stops.push(watchConnection(connection))
    const session = useSessionStore()
    session.me = { email: 'op@example.cn', memberships: [] }
    session.status = 'signed-in'
    const router = createRouter({
      history: createMemoryHistory(),
      routes: [{ path: '/', component: SignedInLayout, props: { portal: 'app' } }, { path: '/login', name: 'login', component: { render: () => '' } }, { path: '/password', name: 'change-password', component: { render: () => '' } }],
    })
    await router.push('/')
    const wrapper = mount(SignedInLayout, { props: { portal: 'app' }, global: { plugins: [pinia, createPortalI18n('zh-CN'), router] } })

    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))
    await expect(request('query A { me { email } }')).rejects.toThrow()
    await flushPromises()
    expect(connection.lost).toBe(true)
    expect(wrapper.find('[role="alert"]').text()).toContain('无法连接服务器')

    // A 502 page from a proxy is not an answer either.
    vi.stubGlobal('fetch', vi.fn(async () => new Response('<html>Bad gateway</html>', { status: 502 })))
    await expect(request('query A { me { email } }')).rejects.toThrow()
    expect(connection.lost).toBe(true)

    vi.stubGlobal('fetch', vi.fn(async () => json({ data: { me: { email: 'op@example.cn' } } })))
    await request('query A { me { email } }')
    await flushPromises()
    expect(connection.lost).toBe(false)
    expect(wrapper.find('[role="alert"]').exists()).toBe(false)
  })
})

describe('a session ended by the server', () => {
  it('goes to sign-in with the page to come back to', async () => {
    setActivePinia(createPinia())
    const session = useSessionStore()
    session.me = { email: 'op@example.cn', memberships: [] }
    session.status = 'signed-in'
    const router = createRouter({
      history: createMemoryHistory(),
      routes: [
        { path: '/login', name: 'login', component: { render: () => '' }, meta: { public: true } },
        { path: '/alarms', name: 'alarms', component: { render: () => '' } },
      ],
    })
    stops.push(installSessionGuard(router))
    await router.push('/alarms?severity=RED')

    vi.stubGlobal('fetch', vi.fn(async () => json({ data: null, errors: [{ message: 'expired', extensions: { code: 'UNAUTHENTICATED' } }] })))
    await expect(request('query A { alarms { id } }')).rejects.toThrow('expired')
    await flushPromises()
    expect(router.currentRoute.value.name).toBe('login')
    expect(router.currentRoute.value.query).toEqual({ next: '/alarms?severity=RED', ended: '1' })
    expect(session.status).toBe('signed-out')
    expect(session.ended).toBe(true)
  })

  it('leaves a refused sign-in to the sign-in page', async () => {
    setActivePinia(createPinia())
    const router = createRouter({
      history: createMemoryHistory(),
      routes: [{ path: '/login', name: 'login', component: { render: () => '' }, meta: { public: true } }],
    })
    stops.push(installSessionGuard(router))
    await router.push('/login?next=/alarms')
    vi.stubGlobal('fetch', vi.fn(async () => json({ data: null, errors: [{ message: 'no', extensions: { code: 'UNAUTHENTICATED' } }] })))
    await expect(request('mutation SignIn { signIn { me { email } } }')).rejects.toThrow()
    await flushPromises()
    expect(router.currentRoute.value.fullPath).toBe('/login?next=/alarms')
  })
})

describe('a page opened while the server was away', () => {
  it('asks again until the server answers, then knows who is signed in', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true })
    try {
      const pinia = createPinia()
      setActivePinia(pinia)
      stops.push(watchConnection(useConnectionStore()))
      const session = useSessionStore()
      vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))
      await session.load()
      expect(session.status).toBe('unreachable')
      const router = createRouter({
        history: createMemoryHistory(),
        routes: [{ path: '/', component: SignedInLayout, props: { portal: 'app' } }, { path: '/login', name: 'login', component: { render: () => '' } }, { path: '/password', name: 'change-password', component: { render: () => '' } }],
      })
      await router.push('/')
      const wrapper = mount(SignedInLayout, { props: { portal: 'app' }, global: { plugins: [pinia, createPortalI18n('en'), router] } })
      expect(wrapper.find('[role="alert"]').text()).toContain('The server cannot be reached')

      vi.stubGlobal('fetch', vi.fn(async () => json({ data: { me: { email: 'op@example.cn', memberships: [] } } })))
      await vi.advanceTimersByTimeAsync(5000)
      await flushPromises()
      expect(session.status).toBe('signed-in')
      expect(wrapper.find('[role="alert"]').exists()).toBe(false)
      expect(wrapper.text()).toContain('op@example.cn')
    } finally {
      vi.useRealTimers()
    }
  })
})
