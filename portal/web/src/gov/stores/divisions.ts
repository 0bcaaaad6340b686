// The division names the server has told this page so far (every jurisdiction answer names the
// division and its children), for breadcrumbs; ancestors never seen are asked for in one go.
import { defineStore } from 'pinia'
import { ref } from 'vue'

import { request } from '@/shared/graphql/client'

import { divisionNamesQuery } from '../api'

export const useDivisionNamesStore = defineStore('gov-division-names', () => {
  const names = ref(new Map<string, string>())

  function learn(divisions: readonly { divisionCode: string; name: string }[]): void {
    const next = new Map(names.value)
    for (const d of divisions) next.set(d.divisionCode, d.name)
    names.value = next
  }

  /** Ask for the names of those of `codes` not known yet (each inside the jurisdiction). */
  async function ensure(codes: readonly string[]): Promise<void> {
    const missing = codes.filter((c) => !names.value.has(c))
    if (!missing.length) return
    const variables = Object.fromEntries(missing.map((code, i) => [`c${i}`, code]))
    const answer = await request<Record<string, { divisionCode: string; name: string }>>(
      divisionNamesQuery(missing.length),
      variables,
    )
    learn(Object.values(answer))
  }

  return { names, learn, ensure }
})
