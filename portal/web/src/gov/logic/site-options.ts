// The sites of the divisions a regulator governs, to choose among (a filter, the inspection
// form): each once, by name.
import { request } from '@/shared/graphql/client'

import { GOV_SITE_OPTIONS_QUERY, type GovSiteOption, SITE_OPTIONS_MAX } from '../api'

export async function jurisdictionSites(codes: readonly string[]): Promise<GovSiteOption[]> {
  const found: GovSiteOption[] = []
  for (const code of codes) {
    const data = await request<{ siteRisks: { site: GovSiteOption }[] }>(GOV_SITE_OPTIONS_QUERY, { code, first: SITE_OPTIONS_MAX })
    found.push(...data.siteRisks.map((r) => r.site).filter((s) => !found.some((f) => f.id === s.id)))
  }
  return found.sort((a, b) => a.name.localeCompare(b.name, 'zh-CN'))
}
