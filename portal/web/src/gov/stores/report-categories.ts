// The report categories the server names (GET /api/v1/reports/categories), asked for once per
// page load; until they arrive (or if they cannot), a report shows its category's code.
import { defineStore } from 'pinia'
import { ref } from 'vue'

import { refusal } from '@/shared/rest/refusal'

import type { Category } from '../logic/reports'

export const CATEGORIES_PATH = '/api/v1/reports/categories'

export const useReportCategoriesStore = defineStore('gov-report-categories', () => {
  const categories = ref<Category[]>([])
  let asking: Promise<void> | null = null

  async function fetchCategories(): Promise<void> {
    const response = await fetch(CATEGORIES_PATH, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
    if (!response.ok) throw new Error(await refusal(response))
    categories.value = (await response.json()) as Category[]
  }

  /** Ask once; a failed answer may be asked again by the next page. */
  function ensure(): Promise<void> {
    if (categories.value.length) return Promise.resolve()
    asking ??= fetchCategories().finally(() => {
      asking = null
    })
    return asking
  }

  return { categories, ensure }
})
