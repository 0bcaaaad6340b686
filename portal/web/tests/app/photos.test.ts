// Photos for work-order comments: what is refused before it leaves the browser, how an upload
// reports its progress and the server's refusal, and what an edit of a work order sends.
import { describe, expect, it } from 'vitest'

import { type PendingPhoto, readyKeys } from '@/app/logic/photo-attachments'
import { editFormOf, isoToLocalInput, workOrderChanges } from '@/app/logic/work-orders'
import { refusalText } from '@/shared/rest/refusal'
import { fileSize, MAX_PHOTO_BYTES, photoProblem, photoUploadUrl, photoUrl, uploadPhoto } from '@/shared/rest/photos'

describe('photoProblem', () => {
  it('takes JPEG and PNG up to 8 MiB exactly', () => {
    expect(photoProblem({ type: 'image/jpeg', size: MAX_PHOTO_BYTES })).toBeNull()
    expect(photoProblem({ type: 'image/png', size: 1 })).toBeNull()
    expect(photoProblem({ type: 'IMAGE/PNG', size: 10 })).toBeNull()
  })

  it('refuses other types, empty files and one byte over the limit', () => {
    expect(photoProblem({ type: 'image/gif', size: 10 })).toBe('type')
    expect(photoProblem({ type: 'image/heic', size: 10 })).toBe('type')
    expect(photoProblem({ type: '', size: 10 })).toBe('type')
    expect(photoProblem({ type: 'image/png', size: 0 })).toBe('empty')
    expect(photoProblem({ type: 'image/jpeg', size: MAX_PHOTO_BYTES + 1 })).toBe('size')
  })

  it('names sizes as a person reads them', () => {
    expect(fileSize(900)).toBe('900 B')
    expect(fileSize(1536)).toBe('1.5 KiB')
    expect(fileSize(9 * 1024 * 1024)).toBe('9.0 MiB')
  })
})

describe('photo addresses', () => {
  it('names the tenant of an upload, and a key as its path', () => {
    expect(photoUploadUrl(null)).toBe('/api/v1/photos')
    expect(photoUploadUrl('t-1')).toBe('/api/v1/photos?tenant=t-1')
    // A regulator's photo of a site's findings is uploaded for the site.
    expect(photoUploadUrl(null, 's-1')).toBe('/api/v1/photos?site=s-1')
    expect(photoUploadUrl('t-1', 's 2')).toBe('/api/v1/photos?site=s%202')
    expect(photoUrl('photos/t-1/p-2.png')).toBe('/api/v1/photos/photos/t-1/p-2.png')
  })
})

/** Just enough of XMLHttpRequest to answer one upload. */
class FakeXhr {
  static last: FakeXhr | null = null
  method = ''
  url = ''
  headers: Record<string, string> = {}
  body: unknown = null
  withCredentials = false
  status = 0
  responseText = ''
  upload: { onprogress: ((e: ProgressEvent) => void) | null } = { onprogress: null }
  onload: (() => void) | null = null
  onerror: (() => void) | null = null
  onabort: (() => void) | null = null
  aborted = false

  constructor() {
    FakeXhr.last = this
  }
  open(method: string, url: string): void {
    this.method = method
    this.url = url
  }
  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value
  }
  send(body: unknown): void {
    this.body = body
  }
  abort(): void {
    this.aborted = true
    this.onabort?.()
  }
  progress(loaded: number, total: number): void {
    this.upload.onprogress?.({ lengthComputable: true, loaded, total } as ProgressEvent)
  }
  answer(status: number, body: string): void {
    this.status = status
    this.responseText = body
    this.onload?.()
  }
}

const xhr = () => new FakeXhr() as unknown as XMLHttpRequest

describe('uploadPhoto', () => {
  it('posts the file with the CSRF header and its type, reports progress, resolves to the key', async () => {
    const progress: number[] = []
    const file = new Blob([new Uint8Array([0x89, 0x50])], { type: 'image/png' })
    const done = uploadPhoto(file, { tenantId: 't-1', onProgress: (f) => progress.push(f), xhr })
    const request = FakeXhr.last!
    expect([request.method, request.url]).toEqual(['POST', '/api/v1/photos?tenant=t-1'])
    expect(request.headers).toEqual({ 'X-Anjian-CSRF': '1', 'Content-Type': 'image/png' })
    expect(request.body).toBe(file)
    request.progress(1, 4)
    request.answer(201, JSON.stringify({ photo: 'photos/t-1/p.png' }))
    await expect(done).resolves.toBe('photos/t-1/p.png')
    expect(progress).toEqual([0.25, 1])
  })

  it("rejects with the server's message and status", async () => {
    const done = uploadPhoto(new Blob(['x'], { type: 'image/jpeg' }), { tenantId: null, xhr })
    FakeXhr.last!.answer(400, JSON.stringify({ error: 'the body is not a image/jpeg image' }))
    await expect(done).rejects.toMatchObject({ message: 'the body is not a image/jpeg image', status: 400 })
  })

  it('stops when aborted, and says when the server cannot be reached', async () => {
    const abort = new AbortController()
    const stopped = uploadPhoto(new Blob(['x'], { type: 'image/png' }), { tenantId: null, signal: abort.signal, xhr })
    abort.abort()
    await expect(stopped).rejects.toMatchObject({ status: 0 })
    expect(FakeXhr.last!.aborted).toBe(true)
    const lost = uploadPhoto(new Blob(['x'], { type: 'image/png' }), { tenantId: null, xhr })
    FakeXhr.last!.onerror?.()
    await expect(lost).rejects.toMatchObject({ status: 0 })
  })
})

describe('refusalText', () => {
  it("reads the REST routes' error, a framework's detail, or the text", () => {
    expect(refusalText(404, '{"error": "photo x not found"}')).toBe('photo x not found')
    expect(refusalText(413, '{"status_code": 413, "detail": "Request Entity Too Large"}')).toBe('Request Entity Too Large')
    expect(refusalText(502, 'Bad gateway\n')).toBe('Bad gateway')
    expect(refusalText(500, '')).toBe('HTTP 500')
  })
})

describe('readyKeys', () => {
  const photo = (id: number, state: PendingPhoto['state'], key: string | null): PendingPhoto => ({
    id,
    name: `${id}.png`,
    preview: '',
    state,
    progress: 0,
    key,
    error: '',
  })

  it('gives the keys in order once every photo is uploaded, and nothing while one is not', () => {
    expect(readyKeys([])).toEqual([])
    expect(readyKeys([photo(1, 'done', 'k1'), photo(2, 'done', 'k2')])).toEqual(['k1', 'k2'])
    expect(readyKeys([photo(1, 'done', 'k1'), photo(2, 'uploading', null)])).toBeNull()
    expect(readyKeys([photo(1, 'failed', null)])).toBeNull()
  })
})

describe('workOrderChanges', () => {
  const order = {
    title: '处理泄漏',
    description: null,
    assigneeUserId: null,
    assigneeWorkerId: 'w-1',
    dueAt: '2020-01-01T00:00:00.000Z',
  }

  it('sends nothing for an untouched form', () => {
    expect(workOrderChanges(order, editFormOf(order))).toEqual({ changes: {} })
  })

  it('sends only what changed, a cleared value as null', () => {
    const form = { ...editFormOf(order), title: ' 更换探头 ', description: '罐区', assignee: 'user:u-2' }
    expect(workOrderChanges(order, form)).toEqual({
      changes: { title: '更换探头', description: '罐区', assigneeUserId: 'u-2', assigneeWorkerId: null },
    })
    expect(workOrderChanges(order, { ...editFormOf(order), assignee: '', due: '' })).toEqual({
      changes: { assigneeUserId: null, assigneeWorkerId: null, dueAt: null },
    })
  })

  it('sends a new due time as an instant', () => {
    const local = isoToLocalInput('2030-06-01T08:30:00.000Z')
    expect(workOrderChanges(order, { ...editFormOf(order), due: local })).toEqual({
      changes: { dueAt: '2030-06-01T08:30:00.000Z' },
    })
  })

  it('refuses an empty title and a due time that is no time', () => {
    expect(workOrderChanges(order, { ...editFormOf(order), title: '  ' })).toEqual({ problem: 'needTitle' })
    expect(workOrderChanges(order, { ...editFormOf(order), due: 'soon' })).toEqual({ problem: 'badDue' })
  })
})
