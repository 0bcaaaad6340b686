// The site the page shows and the reader's role in its tenant.
import { computed, type ComputedRef } from 'vue'

import { useSessionStore } from '@/shared/session/store'

import type { SiteSummary } from '../api'
import { type EnterpriseRole, roleForSite } from '../logic/roles'
import { useSitesStore } from '../stores/sites'

export function useSiteRole(): { site: ComputedRef<SiteSummary | null>; role: ComputedRef<EnterpriseRole | null> } {
  const session = useSessionStore()
  const sites = useSitesStore()
  const site = computed(() => sites.selected)
  const role = computed(() => roleForSite(session.me?.memberships ?? [], site.value))
  return { site, role }
}
