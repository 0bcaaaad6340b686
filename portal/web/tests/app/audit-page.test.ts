// The audit page: a safety manager pages the trail with filters and exports the same selection
// as CSV through fetch with the session's CSRF header; an operator is not shown the trail.
import { afterEach, describe, expect, it, vi } from 'vitest'

import AuditPage from '@/app/pages/AuditPage.vue'
import type { AuditEntry } from '@/app/queries/audit'

import { buttons, click, fill, mountPage, settle, submit, TENANT } from './page-harness'

function entry(id: number): AuditEntry {
  return {
    id: String(id),
    at: '2026-12-02T10:00:00.000Z',
    action: id % 2 ? 'worker.read' : 'alarm_rule.override',
    actor: { kind: 'user', id: 'u-1', email: 's***@example.cn', name: '安*', role: 'safety_manager' },
    objectType: 'worker',
    objectId: `w-${id}`,
    detail: { fields: ['mobile'] },
  }
}

interface Call {
  url: string
  init: RequestInit | undefined
  body: { query: string; variables: Record<string, unknown> } | null
}

function stubServer(csv: Response | (() => Response)) {
  const calls: Call[] = []
  const fetcher = vi.fn(async (url: string, init?: RequestInit) => {
    const body = init?.body ? (JSON.parse(String(init.body)) as Call['body']) : null
    calls.push({ url, init, body })
    if (url.startsWith('/api/v1/audit.csv')) return typeof csv === 'function' ? csv() : csv
    const after = body?.variables.after as string | null
    const start = after ? Number(after) - 1 : 120
    const answer = Array.from({ length: Math.min(51, start) }, (_, i) => entry(start - i))
    return new Response(JSON.stringify({ data: { auditEntries: answer } }), {
      headers: { 'Content-Type': 'application/json' },
    })
  })
  vi.stubGlobal('fetch', fetcher)
  return calls
}

afterEach(() => {
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
  document.body.innerHTML = ''
})

describe('AuditPage', () => {
  it('pages the trail and filters it by action and actor', async () => {
    const calls = stubServer(new Response(''))
    const { wrapper } = await mountPage(AuditPage, 'safety_manager', '/page')
    await settle()
    expect(wrapper.findAll('tbody tr')).toHaveLength(50)
    expect(wrapper.text()).toContain('worker.read')
    expect(wrapper.text()).toContain('安* · 安全管理员')
    expect(calls[0]!.body!.variables).toMatchObject({ first: 51, after: null, tenantId: TENANT })

    await click('下一页')
    expect(calls.at(-1)!.body!.variables.after).toBe('71')
    expect(wrapper.find('tbody tr').text()).toContain('w-70')

    fill('input[name="action"]', 'membership.*')
    fill('input[name="actorEmail"]', 'owner@example.cn')
    await submit('form.audit__filters')
    expect(calls.at(-1)!.body!.variables).toMatchObject({ action: 'membership.*', actorEmail: 'owner@example.cn', after: null })
  })

  it('exports the filtered selection as CSV with the CSRF header and saves it', async () => {
    const calls = stubServer(
      new Response('\uFEFFat,action\r\n', {
        headers: { 'Content-Type': 'text/csv', 'Content-Disposition': 'attachment; filename="audit-20261202.csv"' },
      }),
    )
    const created = vi.fn(() => 'blob:audit')
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: created, revokeObjectURL: vi.fn() }))
    const saved: string[] = []
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      saved.push(this.download)
    })
    await mountPage(AuditPage, 'owner', '/page')
    await settle()
    fill('input[name="objectType"]', 'worker')
    await submit('form.audit__filters')
    await click('导出 CSV')
    const csv = calls.find((c) => c.url.startsWith('/api/v1/audit.csv'))!
    expect(csv.url).toBe(`/api/v1/audit.csv?objectType=worker&tenantId=${TENANT}`)
    expect(csv.init?.credentials).toBe('same-origin')
    expect((csv.init?.headers as Record<string, string>)['X-Anjian-CSRF']).toBe('1')
    expect(saved).toEqual(['audit-20261202.csv'])
  })

  it('says why an export was refused', async () => {
    stubServer(() => new Response(JSON.stringify({ message: 'not allowed here' }), { status: 403 }))
    await mountPage(AuditPage, 'owner', '/page')
    await settle()
    await click('导出 CSV')
    expect(document.body.textContent).toContain('导出失败：not allowed here')
  })

  it('shows an operator no trail and asks nothing', async () => {
    const calls = stubServer(new Response(''))
    const { wrapper } = await mountPage(AuditPage, 'operator', '/page')
    await settle()
    expect(wrapper.text()).toContain('仅企业负责人和安全管理员可查看审计记录')
    expect(buttons('导出 CSV')).toHaveLength(0)
    expect(calls).toHaveLength(0)
  })
})
