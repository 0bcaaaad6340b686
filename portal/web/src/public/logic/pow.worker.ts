// One searcher for the proof of work, off the page's thread. Told a challenge, a difficulty
// and which numbers are its own (start, step), it reports how many it tried every so often
// and the nonce when it finds one; the page ends it when any searcher has found one.
import { searchNonces } from './pow'

export interface SearchOrder {
  challenge: string
  difficulty: number
  start: number
  step: number
}

export type SearchReport = { kind: 'tried'; tried: number } | { kind: 'found'; nonce: string; tried: number }

const BATCH = 4096

self.onmessage = (event: MessageEvent<SearchOrder>) => {
  const { challenge, difficulty, start, step } = event.data
  for (let next = start; ; next += BATCH * step) {
    const search = searchNonces(challenge, difficulty, next, step, BATCH)
    if (search.nonce !== null) {
      self.postMessage({ kind: 'found', nonce: search.nonce, tried: search.tried } satisfies SearchReport)
      return
    }
    self.postMessage({ kind: 'tried', tried: search.tried } satisfies SearchReport)
  }
}
