// A camera snapshot the server hands out only with the session's CSRF header (an <img src>
// cannot send it): fetched, then shown from an object URL that the caller revokes.
import { fetchDownload } from '@/shared/rest/download'

export interface LoadedSnapshot {
  /** An object URL of the image, to revoke with `release` when it is no longer shown. */
  src: string
  release: () => void
}

export async function loadSnapshot(url: string): Promise<LoadedSnapshot> {
  const { blob } = await fetchDownload(url)
  if (!blob.type.startsWith('image/')) throw new Error(`not an image: ${blob.type || 'no type'}`)
  const src = URL.createObjectURL(blob)
  return { src, release: () => URL.revokeObjectURL(src) }
}
