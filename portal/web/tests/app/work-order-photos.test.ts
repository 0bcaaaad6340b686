// Photos on work-order comments as a person meets them: a wrong file is refused with its name
// before anything is sent, an upload shows its progress, the comment carries the keys, and the
// photos of a comment are fetched with the CSRF header and shown as thumbnails.
import { flushPromises } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import WorkOrderDetailPage from '@/app/pages/WorkOrderDetailPage.vue'
import type { WorkOrderDetail } from '@/app/queries/work-orders'

import { graphqlFetch } from './graphql-mock'
import { mountPage, settle, submit, TENANT } from './page-harness'

const SITE = { id: 'site-1', name: '一号厂区', tenantId: TENANT }
const KEY = `photos/${TENANT}/b0000000-0000-4000-8000-000000000001.png`

function detail(overrides: Partial<WorkOrderDetail> = {}): WorkOrderDetail {
  return {
    id: 'wo-1',
    siteId: 'site-1',
    title: '处理罐区泄漏',
    status: 'IN_PROGRESS',
    dueAt: null,
    overdue: false,
    createdAt: '2026-12-02T08:00:00.000Z',
    alarmId: null,
    incidentId: null,
    site: SITE,
    description: null,
    assigneeUserId: null,
    assigneeWorkerId: null,
    createdBy: 'u-1',
    updatedAt: '2026-12-02T08:00:00.000Z',
    checklist: [],
    timeline: [],
    comments: [],
    alarm: null,
    incident: null,
    ...overrides,
  }
}

class Upload {
  static all: Upload[] = []
  url = ''
  headers: Record<string, string> = {}
  withCredentials = false
  status = 0
  responseText = ''
  upload: { onprogress: ((e: ProgressEvent) => void) | null } = { onprogress: null }
  onload: (() => void) | null = null
  onerror: (() => void) | null = null
  onabort: (() => void) | null = null
  constructor() {
    Upload.all.push(this)
  }
  open(_method: string, url: string): void {
    this.url = url
  }
  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value
  }
  send(): void {}
  abort(): void {
    this.onabort?.()
  }
}

beforeEach(() => {
  Upload.all = []
  vi.stubGlobal('XMLHttpRequest', Upload)
  let n = 0
  URL.createObjectURL = vi.fn(() => `blob:test/${n++}`)
  URL.revokeObjectURL = vi.fn()
})

afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

async function pick(...files: File[]): Promise<void> {
  const input = document.querySelector<HTMLInputElement>('input[name="photos"]')!
  Object.defineProperty(input, 'files', { value: files, configurable: true })
  input.dispatchEvent(new Event('change'))
  await flushPromises()
}

function fillComment(text: string): void {
  const area = document.querySelector<HTMLTextAreaElement>('textarea[name="comment"]')!
  area.value = text
  area.dispatchEvent(new Event('input'))
}

describe('photos on a work-order comment', () => {
  it('refuses a GIF and a photo over 8 MiB by name, and uploads nothing', async () => {
    graphqlFetch({ ConsoleWorkOrder: { data: { workOrder: detail() } } })
    await mountPage(WorkOrderDetailPage, 'operator', '/work-orders/wo-1')
    const big = new File(['x'], '大图.png', { type: 'image/png' })
    Object.defineProperty(big, 'size', { value: 9 * 1024 * 1024 })
    await pick(new File(['GIF89a'], '动图.gif', { type: 'image/gif' }), big)
    expect(document.body.textContent).toContain('“动图.gif”不是 JPEG 或 PNG 图片，未上传。')
    expect(document.body.textContent).toContain('“大图.png”有 9.0 MiB，超过 8 MiB 的上限，未上传。')
    expect(Upload.all).toHaveLength(0)
  })

  it('shows the progress, waits for the upload, then sends the key with the comment', async () => {
    const { asked } = graphqlFetch({
      ConsoleWorkOrder: { data: { workOrder: detail() } },
      CommentWorkOrder: { data: { commentWorkOrder: detail() } },
    })
    await mountPage(WorkOrderDetailPage, 'operator', '/work-orders/wo-1')
    fillComment('法兰已紧固')
    await pick(new File(['png'], '法兰.png', { type: 'image/png' }))
    const [upload] = Upload.all
    expect(upload!.url).toBe(`/api/v1/photos?tenant=${TENANT}`)
    expect(upload!.headers['X-Anjian-CSRF']).toBe('1')
    upload!.upload.onprogress?.({ lengthComputable: true, loaded: 1, total: 2 } as ProgressEvent)
    await flushPromises()
    expect(document.body.textContent).toContain('上传中 50%')
    const post = [...document.querySelectorAll('button')].find((b) => b.textContent?.trim() === '发表')!
    expect(post.disabled).toBe(true)
    upload!.status = 201
    upload!.responseText = JSON.stringify({ photo: KEY })
    upload!.onload?.()
    await flushPromises()
    expect(document.body.textContent).toContain('已上传')
    await submit('.comment-form')
    expect(asked.find((a) => a.operation === 'CommentWorkOrder')!.variables).toEqual({
      id: 'wo-1',
      text: '法兰已紧固',
      photos: [KEY],
    })
    expect(document.querySelector('input[name="photos"]')).not.toBeNull()
    expect(document.body.textContent).not.toContain('法兰.png')
  })

  it("shows a failed upload with the server's words, and a removed photo is not sent", async () => {
    const { asked } = graphqlFetch({
      ConsoleWorkOrder: { data: { workOrder: detail() } },
      CommentWorkOrder: { data: { commentWorkOrder: detail() } },
    })
    await mountPage(WorkOrderDetailPage, 'operator', '/work-orders/wo-1')
    fillComment('现场照片')
    await pick(new File(['jpg'], '现场.jpg', { type: 'image/jpeg' }))
    const [upload] = Upload.all
    upload!.status = 400
    upload!.responseText = JSON.stringify({ error: 'the body is not a image/jpeg image' })
    upload!.onload?.()
    await flushPromises()
    expect(document.body.textContent).toContain('上传失败：the body is not a image/jpeg image')
    document.querySelector<HTMLButtonElement>('button[aria-label="移除照片“现场.jpg”"]')!.click()
    await flushPromises()
    await submit('.comment-form')
    expect(asked.find((a) => a.operation === 'CommentWorkOrder')!.variables).toEqual({ id: 'wo-1', text: '现场照片', photos: null })
  })

  it("fetches a comment's photos with the CSRF header and shows them as thumbnails", async () => {
    const comment = { id: 'c1', author: 'u-1', at: '2026-12-02T09:00:00.000Z', text: '见照片', photos: [KEY] }
    const { fetcher } = graphqlFetch({ ConsoleWorkOrder: { data: { workOrder: detail({ comments: [comment] }) } } })
    const photos: RequestInit[] = []
    const graphql = fetcher.getMockImplementation()!
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) => {
        if (!url.startsWith('/api/v1/photos/')) return graphql(url, init)
        expect(url).toBe(`/api/v1/photos/${KEY}`)
        photos.push(init!)
        return new Response(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), { headers: { 'Content-Type': 'image/png' } })
      }),
    )
    await mountPage(WorkOrderDetailPage, 'viewer', '/work-orders/wo-1')
    await settle()
    expect(photos).toHaveLength(1)
    expect(photos[0]!.headers).toEqual({ 'X-Anjian-CSRF': '1' })
    const image = document.querySelector('ul[aria-label="评论照片"] img')
    expect(image?.getAttribute('src')).toMatch(/^blob:/)
  })
})
