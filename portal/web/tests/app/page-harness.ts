// Mounting a console page as a given role, with the sites known and every console route
// (other pages stubbed), and driving its native controls the way a person does.
import { flushPromises, mount } from '@vue/test-utils'
import { vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import type { Component } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'

import { useSitesStore } from '@/app/stores/sites'
import { createPortalI18n } from '@/shared/i18n'
import type { Membership } from '@/shared/session/portal'
import { useSessionStore } from '@/shared/session/store'

export const TENANT = 'a0000000-0000-4000-8000-000000000001'
export const ME = 'u0000000-0000-4000-8000-00000000000a'

const stub = { render: () => 'page' }

export async function mountPage(page: Component, role: string, path: string, extra: Membership[] = []) {
  const pinia = createPinia()
  setActivePinia(pinia)
  useSessionStore().me = { email: `${role}@example.cn`, memberships: [{ domain: `tenant:${TENANT}`, role }, ...extra] }
  const sites = useSitesStore()
  sites.sites = [
    { id: 'site-1', name: '一号厂区', tenantId: TENANT },
    { id: 'site-2', name: '二号厂区', tenantId: TENANT },
  ]
  sites.loaded = true
  const names = ['home', 'alarms', 'sensor-history', 'work-orders', 'handovers', 'devices', 'people', 'permits', 'audit', 'notices']
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      ...names.map((name) => ({ path: `/${name}`, name, component: stub })),
      { path: '/work-orders/:id', name: 'work-order', component: stub },
      { path: '/alarms/:id', name: 'alarm', component: stub },
      { path: '/notices/:id', name: 'notice', component: stub },
      { path: '/inspections/:id', name: 'inspection', component: stub },
      { path: '/page', name: 'page-under-test', component: stub },
    ],
  })
  await router.push(path)
  const wrapper = mount(page, { global: { plugins: [pinia, createPortalI18n('zh-CN'), router] }, attachTo: document.body })
  await flushPromises()
  return { wrapper, router }
}

/** Let requests, lazily loaded components and re-renders finish. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await flushPromises()
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
}

/** Wait for an element to show (a lazily loaded dialog's first import takes real time). */
export async function shown(selector: string): Promise<Element> {
  return vi.waitFor(
    () => {
      const found = document.querySelector(selector)
      if (!found) throw new Error(`${selector} not shown`)
      return found
    },
    { timeout: 5000 },
  )
}

export function buttons(text: string): HTMLButtonElement[] {
  return [...document.querySelectorAll('button')].filter((b) => b.textContent?.trim() === text)
}

export async function click(text: string, index = 0): Promise<void> {
  const button = buttons(text)[index]
  if (!button) throw new Error(`no button ${text}`)
  button.click()
  await settle()
}

export function fill(selector: string, value: string): void {
  const field = document.querySelector<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>(selector)
  if (!field) throw new Error(`no field ${selector}`)
  field.value = value
  field.dispatchEvent(new Event(field instanceof HTMLSelectElement ? 'change' : 'input'))
}

export async function submit(selector: string): Promise<void> {
  const form = document.querySelector<HTMLFormElement>(selector)
  if (!form) throw new Error(`no form ${selector}`)
  form.dispatchEvent(new Event('submit'))
  await settle()
}

export function gqlError(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }], data: null }
}
