// The public REST routes of CONTRACT.md ("Public hazard reports"). No session: requests carry
// no cookie (`credentials: 'omit'`), so a report is never tied to an account the browser holds.
import { refusalText } from '@/shared/rest/refusal'

export interface Category {
  code: string
  nameZh: string
  nameEn: string
}

export interface Division {
  code: string
  name: string
  nameEn: string
}

export interface Challenge {
  challenge: string
  difficulty: number
}

export interface Proof {
  challenge: string
  nonce: string
}

export interface ReportPayload {
  category: string
  description: string
  divisionCode: string
  location: { lat: number; lon: number } | null
  address: string | null
  observedAt: string | null
  photos: string[]
  contact: { name: string; mobile: string } | null
  subject: string | null
  pow: Proof
}

export const REPORT_STATUSES = ['RECEIVED', 'ACCEPTED', 'REJECTED', 'INVESTIGATING', 'CLOSED', 'MERGED'] as const
export type ReportStatus = (typeof REPORT_STATUSES)[number]

export interface TrackedReport {
  receipt: string
  status: ReportStatus | string
  timeline: { at: string; status: ReportStatus | string; note: string | null }[]
  outcome: string | null
}

export interface FieldError {
  field: string
  message: string
}

/** A refusal: its status, the fields it names (400) and how long to wait (429). */
export class ReportApiError extends Error {
  constructor(
    message: string,
    /** The HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    readonly fieldErrors: FieldError[] = [],
    /** Seconds to wait before trying again, from `Retry-After`. */
    readonly retryAfter: number | null = null,
  ) {
    super(message)
    this.name = 'ReportApiError'
  }
}

export const REPORTS_PATH = '/api/v1/reports'

/** Seconds from a `Retry-After` value (seconds, or an HTTP date), or null. */
export function retryAfterSeconds(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000))
}

function fieldErrorsOf(text: string): FieldError[] {
  try {
    const body = JSON.parse(text) as { errors?: unknown }
    if (!Array.isArray(body.errors)) return []
    return body.errors.flatMap((item: unknown) => {
      const error = item as { field?: unknown; message?: unknown }
      if (typeof error?.message !== 'string') return []
      return [{ field: typeof error.field === 'string' ? error.field : '', message: error.message }]
    })
  } catch {
    return []
  }
}

/** The error a refused request means, from its status, body text and `Retry-After`. */
export function refusedWith(status: number, text: string, retryAfter: string | null): ReportApiError {
  const fields = fieldErrorsOf(text)
  const message = fields.length ? fields.map((error) => error.message).join('; ') : refusalText(status, text)
  return new ReportApiError(message, status, fields, status === 429 ? retryAfterSeconds(retryAfter) : null)
}

async function request(url: string, init: RequestInit = {}): Promise<Response> {
  let response: Response
  try {
    response = await fetch(url, { ...init, credentials: 'omit' })
  } catch {
    throw new ReportApiError('the server could not be reached', 0)
  }
  return response
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await request(url, init)
  const text = await response.text()
  if (!response.ok) throw refusedWith(response.status, text, response.headers.get('Retry-After'))
  return JSON.parse(text) as T
}

export function fetchCategories(): Promise<Category[]> {
  return json<Category[]>(`${REPORTS_PATH}/categories`)
}

/** The divisions under `parent`; the provinces when it is null. */
export function fetchDivisions(parent: string | null): Promise<Division[]> {
  const query = parent ? `?parent=${encodeURIComponent(parent)}` : ''
  return json<Division[]>(`${REPORTS_PATH}/divisions${query}`)
}

export function fetchChallenge(): Promise<Challenge> {
  return json<Challenge>(`${REPORTS_PATH}/challenge`)
}

/** Sends the report; resolves to its receipt code. */
export async function submitReport(payload: ReportPayload): Promise<string> {
  const body = await json<{ receipt: string }>(REPORTS_PATH, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(payload),
  })
  return body.receipt
}

/** The report a receipt names, or null when there is none. */
export async function trackReport(receipt: string): Promise<TrackedReport | null> {
  try {
    return await json<TrackedReport>(`${REPORTS_PATH}/${encodeURIComponent(receipt)}`)
  } catch (error) {
    if (error instanceof ReportApiError && error.status === 404) return null
    throw error
  }
}

export interface PhotoUploadOptions {
  /** The share sent so far, 0 to 1. */
  onProgress?: (fraction: number) => void
  signal?: AbortSignal
  /** Made for each upload; a test gives its own. */
  xhr?: () => XMLHttpRequest
}

/** Uploads one photo under a solved challenge; resolves to its key. XMLHttpRequest rather
 * than fetch: only it reports how much of the body has gone. */
export function uploadReportPhoto(file: Blob, proof: Proof, options: PhotoUploadOptions = {}): Promise<string> {
  const xhr = options.xhr ? options.xhr() : new XMLHttpRequest()
  return new Promise<string>((resolve, reject) => {
    xhr.open('POST', `${REPORTS_PATH}/photos`)
    xhr.setRequestHeader('Content-Type', file.type)
    xhr.setRequestHeader('X-Anjian-PoW', `${proof.challenge}:${proof.nonce}`)
    xhr.upload.onprogress = (event: ProgressEvent) => {
      if (event.lengthComputable && event.total > 0) options.onProgress?.(event.loaded / event.total)
    }
    xhr.onload = () => {
      if (xhr.status === 201) {
        try {
          const body = JSON.parse(xhr.responseText) as { photo?: unknown }
          if (typeof body.photo === 'string' && body.photo) {
            options.onProgress?.(1)
            resolve(body.photo)
            return
          }
        } catch {
          // Falls through to the refusal below.
        }
      }
      reject(refusedWith(xhr.status, xhr.responseText, xhr.getResponseHeader('Retry-After')))
    }
    xhr.onerror = () => reject(new ReportApiError('the server could not be reached', 0))
    xhr.onabort = () => reject(new ReportApiError('cancelled', 0))
    options.signal?.addEventListener('abort', () => xhr.abort(), { once: true })
    xhr.send(file)
  })
}
