// Solving a challenge without freezing the page: a few Web Workers (same-origin bundled files,
// as the CSP's script-src 'self' asks) search disjoint nonces; where workers cannot start, the
// page searches in short slices between frames.
import type { SearchOrder, SearchReport } from './pow.worker'
import { searchNonces } from './pow'

export interface SolveOptions {
  /** Numbers tried so far, all searchers together. */
  onProgress?: (tried: number) => void
  signal?: AbortSignal
}

export type Solver = (challenge: string, difficulty: number, options?: SolveOptions) => Promise<string>

export class SolveAborted extends Error {
  constructor() {
    super('the proof of work was cancelled')
    this.name = 'SolveAborted'
  }
}

const SLICE = 2048

/** On the page's own thread, a slice at a time (a fallback; also what tests run). */
export function solveOnPage(challenge: string, difficulty: number, options: SolveOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    let next = 0
    const slice = () => {
      if (options.signal?.aborted) return reject(new SolveAborted())
      const search = searchNonces(challenge, difficulty, next, 1, SLICE)
      next += search.tried
      options.onProgress?.(next)
      if (search.nonce !== null) resolve(search.nonce)
      else setTimeout(slice, 0)
    }
    slice()
  })
}

function searcherCount(): number {
  const cores = typeof navigator !== 'undefined' ? navigator.hardwareConcurrency || 2 : 2
  return Math.max(1, Math.min(4, cores))
}

/** In Web Workers, one per core up to four; on the page when a worker cannot start. */
export function solveInWorkers(challenge: string, difficulty: number, options: SolveOptions = {}): Promise<string> {
  if (typeof Worker === 'undefined') return solveOnPage(challenge, difficulty, options)
  return new Promise((resolve, reject) => {
    const count = searcherCount()
    const workers: Worker[] = []
    let tried = 0
    let done = false
    const finish = () => {
      done = true
      for (const worker of workers) worker.terminate()
      options.signal?.removeEventListener('abort', abort)
    }
    const abort = () => {
      if (done) return
      finish()
      reject(new SolveAborted())
    }
    options.signal?.addEventListener('abort', abort, { once: true })
    if (options.signal?.aborted) return abort()
    for (let start = 0; start < count; start++) {
      let worker: Worker
      try {
        worker = new Worker(new URL('./pow.worker.ts', import.meta.url), { type: 'module' })
      } catch {
        finish()
        solveOnPage(challenge, difficulty, options).then(resolve, reject)
        return
      }
      workers.push(worker)
      worker.onmessage = (event: MessageEvent<SearchReport>) => {
        if (done) return
        tried += event.data.tried
        options.onProgress?.(tried)
        if (event.data.kind === 'found') {
          finish()
          resolve(event.data.nonce)
        }
      }
      worker.onerror = (event) => {
        // A worker that cannot load (an old browser, a blocked file): search on the page.
        event.preventDefault()
        if (done) return
        finish()
        solveOnPage(challenge, difficulty, options).then(resolve, reject)
      }
      worker.postMessage({ challenge, difficulty, start, step: count } satisfies SearchOrder)
    }
  })
}
