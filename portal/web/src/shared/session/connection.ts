// Whether the server answers. A control room must never watch a frozen screen: the first
// request that gets no answer raises the banner, the first one answered again lowers it.
import { defineStore } from 'pinia'
import { ref } from 'vue'

import { onRequestOutcome } from '../graphql/client'

export const useConnectionStore = defineStore('connection', () => {
  const lost = ref(false)
  /** When the first unanswered request of the current outage failed (ms since the epoch). */
  const lostSince = ref<number | null>(null)

  function markLost(at: number = Date.now()): void {
    if (!lost.value) lostSince.value = at
    lost.value = true
  }

  function markAnswered(): void {
    lost.value = false
    lostSince.value = null
  }

  return { lost, lostSince, markLost, markAnswered }
})

/** Feed the store from every request the page makes. Returns a function that stops it. */
export function watchConnection(store: ReturnType<typeof useConnectionStore>): () => void {
  return onRequestOutcome((outcome) => {
    if (outcome.kind === 'unreachable') store.markLost()
    else store.markAnswered()
  })
}
