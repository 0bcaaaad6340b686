// The sites the signed-in person may see, and the one the pages show. The choice is kept in
// the address (`?site=`) by the pages that use it and remembered here across pages.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'

import { request } from '@/shared/graphql/client'

import { SITES_QUERY, type SiteSummary } from '../api'

export const useSitesStore = defineStore('sites', () => {
  const sites = ref<SiteSummary[]>([])
  const loaded = ref(false)
  const selectedId = ref<string | null>(null)

  const selected = computed(() => sites.value.find((s) => s.id === selectedId.value) ?? sites.value[0] ?? null)

  async function load(): Promise<void> {
    const data = await request<{ sites: SiteSummary[] }>(SITES_QUERY)
    sites.value = data.sites
    loaded.value = true
    if (!data.sites.some((s) => s.id === selectedId.value)) selectedId.value = data.sites[0]?.id ?? null
  }

  function select(id: string): void {
    if (sites.value.some((s) => s.id === id)) selectedId.value = id
  }

  return { sites, loaded, selectedId, selected, load, select }
})
