// Mounting a public page with the portal's own router (in memory) and catalogue, and a server
// stand-in that answers the public REST routes by path.
import { flushPromises, mount } from '@vue/test-utils'
import { vi } from 'vitest'
import type { Component } from 'vue'
import { createMemoryHistory, type HistoryState } from 'vue-router'

import { createPublicI18n } from '@/public/i18n'
import { createPublicRouter } from '@/public/router'

export interface Call {
  method: string
  url: string
  body: unknown
  init: RequestInit | undefined
}

type Answer = Response | ((call: Call) => Response)

/** A fetch answering `METHOD path` (exact) or `METHOD path*` (prefix); anything else fails the test. */
export function publicServer(answers: Record<string, Answer>) {
  const calls: Call[] = []
  const fetcher = vi.fn(async (url: string, init?: RequestInit) => {
    const method = init?.method ?? 'GET'
    const call: Call = { method, url, body: init?.body ? JSON.parse(String(init.body)) : null, init }
    calls.push(call)
    const key = Object.keys(answers).find((pattern) => {
      const [m, path] = pattern.split(' ') as [string, string]
      return m === method && (path.endsWith('*') ? url.startsWith(path.slice(0, -1)) : url === path)
    })
    if (!key) throw new Error(`unexpected ${method} ${url}`)
    const answer = answers[key]!
    return typeof answer === 'function' ? answer(call) : answer.clone()
  })
  vi.stubGlobal('fetch', fetcher)
  return calls
}

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })

export async function mountPublic(page: Component, path: string, state: HistoryState = {}, locale: 'zh-CN' | 'en' = 'zh-CN') {
  // The router scrolls to the top on each page; jsdom has no scrolling.
  window.scrollTo = () => {}
  const router = createPublicRouter(createMemoryHistory())
  await router.push({ path, state })
  const wrapper = mount(page, { global: { plugins: [createPublicI18n(locale), router] }, attachTo: document.body })
  await settle()
  return { wrapper, router }
}

/** Let requests and re-renders finish. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await flushPromises()
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
}
