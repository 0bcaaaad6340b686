// The public REST client: refusals read (field errors, Retry-After), no cookie sent, photos
// uploaded with the proof header and their progress.
import { afterEach, describe, expect, it, vi } from 'vitest'

import { fetchDivisions, refusedWith, retryAfterSeconds, submitReport, trackReport, uploadReportPhoto } from '@/public/api'

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('refusals', () => {
  it('reads Retry-After as seconds or as a date', () => {
    expect(retryAfterSeconds('120')).toBe(120)
    expect(retryAfterSeconds(null)).toBeNull()
    expect(retryAfterSeconds('soon')).toBeNull()
    const now = Date.parse('2026-12-03T10:00:00Z')
    expect(retryAfterSeconds('Thu, 03 Dec 2026 10:01:30 GMT', now)).toBe(90)
  })

  it('keeps the fields a 400 names and the wait a 429 asks', () => {
    const bad = refusedWith(400, JSON.stringify({ errors: [{ field: 'contact.mobile', message: 'not a mobile' }, { field: 'pow', message: 'expired' }] }), null)
    expect(bad.fieldErrors).toEqual([
      { field: 'contact.mobile', message: 'not a mobile' },
      { field: 'pow', message: 'expired' },
    ])
    expect(bad.message).toBe('not a mobile; expired')
    const slow = refusedWith(429, '{"error": "too many reports"}', '30')
    expect(slow).toMatchObject({ status: 429, retryAfter: 30, message: 'too many reports', fieldErrors: [] })
  })
})

describe('requests', () => {
  it('sends no cookie, asks the divisions under a parent and reads a 404 as no report', async () => {
    const seen: { url: string; init?: RequestInit }[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) => {
        seen.push({ url, init })
        if (url.startsWith('/api/v1/reports/divisions')) return new Response('[{"code":"320100","name":"南京市","nameEn":"Nanjing"}]')
        if (url === '/api/v1/reports') return new Response('{"receipt":"AJ-0000-0000-0000-0000"}', { status: 201 })
        return new Response('{"error":"no such report"}', { status: 404 })
      }),
    )
    expect(await fetchDivisions('320000')).toEqual([{ code: '320100', name: '南京市', nameEn: 'Nanjing' }])
    expect(seen[0]!.url).toBe('/api/v1/reports/divisions?parent=320000')
    await fetchDivisions(null)
    expect(seen[1]!.url).toBe('/api/v1/reports/divisions')
    expect(await trackReport('AJ-0000-0000-0000-0001')).toBeNull()
    expect(seen[2]!.url).toBe('/api/v1/reports/AJ-0000-0000-0000-0001')
    await submitReport({} as never)
    expect(seen[3]!.init).toMatchObject({ method: 'POST', headers: { 'Content-Type': 'application/json' } })
    expect(seen.every((call) => call.init?.credentials === 'omit')).toBe(true)
  })
})

/** Just enough of XMLHttpRequest to answer one upload. */
class FakeXhr {
  url = ''
  headers: Record<string, string> = {}
  status = 0
  responseText = ''
  responseHeaders: Record<string, string> = {}
  upload: { onprogress: ((e: ProgressEvent) => void) | null } = { onprogress: null }
  onload: (() => void) | null = null
  onerror: (() => void) | null = null
  onabort: (() => void) | null = null
  open(_method: string, url: string): void {
    this.url = url
  }
  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value
  }
  getResponseHeader(name: string): string | null {
    return this.responseHeaders[name] ?? null
  }
  send(): void {}
  abort(): void {
    this.onabort?.()
  }
}

describe('uploadReportPhoto', () => {
  const photo = new Blob(['jpeg'], { type: 'image/jpeg' })
  const proof = { challenge: 'abc.123', nonce: '9041' }

  it('posts the photo with its type and the proof, and reports its progress', async () => {
    const xhr = new FakeXhr()
    const shares: number[] = []
    const upload = uploadReportPhoto(photo, proof, { xhr: () => xhr as unknown as XMLHttpRequest, onProgress: (s) => shares.push(s) })
    expect(xhr.url).toBe('/api/v1/reports/photos')
    expect(xhr.headers).toEqual({ 'Content-Type': 'image/jpeg', 'X-Anjian-PoW': 'abc.123:9041' })
    xhr.upload.onprogress?.({ lengthComputable: true, loaded: 2, total: 4 } as ProgressEvent)
    xhr.status = 201
    xhr.responseText = '{"photo":"reports/2f1c"}'
    xhr.onload?.()
    expect(await upload).toBe('reports/2f1c')
    expect(shares).toEqual([0.5, 1])
  })

  it('rejects with the server’s words and its wait', async () => {
    const xhr = new FakeXhr()
    const upload = uploadReportPhoto(photo, proof, { xhr: () => xhr as unknown as XMLHttpRequest })
    xhr.status = 429
    xhr.responseText = '{"error":"slow down"}'
    xhr.responseHeaders['Retry-After'] = '12'
    xhr.onload?.()
    await expect(upload).rejects.toMatchObject({ status: 429, retryAfter: 12, message: 'slow down' })
  })
})
