// Photos people attach (work-order comments, notice answers, a regulator's photos of a notice's
// findings): checked before they leave the browser, uploaded
// with the session's CSRF header (CONTRACT.md, POST /api/v1/photos) with progress, and shown
// from object URLs, since an <img> cannot send the header GET /api/v1/photos/<key> needs.
import { CSRF_HEADER } from '../graphql/client'
import { refusal, refusalText } from './refusal'

export const PHOTO_TYPES: readonly string[] = ['image/jpeg', 'image/png']
export const PHOTO_ACCEPT = PHOTO_TYPES.join(',')
export const MAX_PHOTO_BYTES = 8 * 1024 * 1024
/** The server's limit for one comment (backend/response MAX_PHOTOS). */
export const MAX_PHOTOS = 5
export const PHOTOS_PATH = '/api/v1/photos'

export type PhotoProblem = 'type' | 'size' | 'empty'

/** Why a picked file cannot be uploaded, or null when it can. */
export function photoProblem(file: { type: string; size: number }): PhotoProblem | null {
  if (!PHOTO_TYPES.includes(file.type.toLowerCase())) return 'type'
  if (file.size === 0) return 'empty'
  if (file.size > MAX_PHOTO_BYTES) return 'size'
  return null
}

/** A size as a person reads it: bytes, KiB or MiB with one decimal. */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}

export class PhotoError extends Error {
  constructor(
    message: string,
    /** The HTTP status; 0 when the server could not be reached. */
    readonly status: number,
  ) {
    super(message)
    this.name = 'PhotoError'
  }
}

/** Where to upload: for a site when one is named (a regulator photographing its findings),
 * else for the tenant named, else the caller's only tenant. */
export function photoUploadUrl(tenantId: string | null, siteId: string | null = null): string {
  if (siteId) return `${PHOTOS_PATH}?site=${encodeURIComponent(siteId)}`
  return tenantId ? `${PHOTOS_PATH}?tenant=${encodeURIComponent(tenantId)}` : PHOTOS_PATH
}

/** Where a photo is read: under `/api/v1/photos` unless another route serves it (a public
 * report's photos are under `/api/v1/reports/photos`). */
export function photoUrl(key: string, base: string = PHOTOS_PATH): string {
  return `${base}/${key.split('/').map(encodeURIComponent).join('/')}`
}

export interface UploadOptions {
  /** The tenant the photo is for (needed when the caller belongs to several). */
  tenantId: string | null
  /** The site the photo is of, for a regulator (the tenant is then the site's). */
  siteId?: string | null
  /** The share sent so far, 0 to 1. */
  onProgress?: (fraction: number) => void
  signal?: AbortSignal
  /** Made for each upload; a test gives its own. */
  xhr?: () => XMLHttpRequest
}

/** Uploads one photo; resolves to its key. XMLHttpRequest rather than fetch: only it reports
 * how much of the body has gone. */
export function uploadPhoto(file: Blob, options: UploadOptions): Promise<string> {
  const xhr = options.xhr ? options.xhr() : new XMLHttpRequest()
  return new Promise<string>((resolve, reject) => {
    xhr.open('POST', photoUploadUrl(options.tenantId, options.siteId ?? null))
    xhr.withCredentials = true
    xhr.setRequestHeader(CSRF_HEADER, '1')
    xhr.setRequestHeader('Content-Type', file.type)
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
      reject(new PhotoError(refusalText(xhr.status, xhr.responseText), xhr.status))
    }
    xhr.onerror = () => reject(new PhotoError('the server could not be reached', 0))
    xhr.onabort = () => reject(new PhotoError('cancelled', 0))
    options.signal?.addEventListener('abort', () => xhr.abort(), { once: true })
    xhr.send(file)
  })
}

/** The photo at `key` as an object URL for an <img>; the caller revokes it. */
export async function fetchPhotoUrl(key: string, fetcher: typeof fetch = fetch, base: string = PHOTOS_PATH): Promise<string> {
  const response = await fetcher(photoUrl(key, base), { credentials: 'same-origin', headers: { [CSRF_HEADER]: '1' } })
  if (!response.ok) throw new PhotoError(await refusal(response), response.status)
  return URL.createObjectURL(await response.blob())
}
