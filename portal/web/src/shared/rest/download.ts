// Fetching a file the server only hands out with the session's CSRF header (a plain link
// cannot send it), then saving it as the browser saves a download.
import { CSRF_HEADER } from '@/shared/graphql/client'
import { refusal } from '@/shared/rest/refusal'

export class DownloadError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
    this.name = 'DownloadError'
  }
}

export async function fetchDownload(url: string): Promise<{ blob: Blob; disposition: string | null }> {
  const response = await fetch(url, { credentials: 'same-origin', headers: { [CSRF_HEADER]: '1' } })
  if (!response.ok) throw new DownloadError(await refusal(response), response.status)
  return { blob: await response.blob(), disposition: response.headers.get('Content-Disposition') }
}

export function saveBlob(filename: string, blob: Blob): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 0)
}
