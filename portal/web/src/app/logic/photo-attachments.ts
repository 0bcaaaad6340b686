// The photos a comment is about to carry: each uploads on its own; the comment goes once every
// one has a key, with the keys in the order they were picked.

export type PendingState = 'uploading' | 'done' | 'failed'

export interface PendingPhoto {
  id: number
  name: string
  /** An object URL of the picked file, for the thumbnail before the upload ends. */
  preview: string
  state: PendingState
  /** Percent sent. */
  progress: number
  key: string | null
  error: string
}

/** The keys to send, or null while a photo is still uploading or has failed (remove it). */
export function readyKeys(photos: readonly PendingPhoto[]): string[] | null {
  if (photos.some((p) => p.state !== 'done' || p.key === null)) return null
  return photos.map((p) => p.key!)
}
