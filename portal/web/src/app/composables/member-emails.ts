// Who a user id is, for the pages that show signers and actors (handovers, work orders): the
// members list of the tenant, for the roles that may read it. Others see a short id; the
// schema names nobody else by email.
import { ref, watch, type Ref } from 'vue'

import { request } from '@/shared/graphql/client'

import { type EnterpriseRole, may } from '../logic/roles'
import { MEMBERS_QUERY, type Member } from '../queries/people'

export function useMemberEmails(tenantId: Ref<string | null>, role: Ref<EnterpriseRole | null>): Ref<Map<string, string>> {
  const emails = ref(new Map<string, string>())
  watch(
    () => [tenantId.value, role.value] as const,
    async ([tenant, held]) => {
      emails.value = new Map()
      if (!tenant || !may(held, 'membership:read')) return
      try {
        const data = await request<{ members: Member[] }>(MEMBERS_QUERY, { domain: `tenant:${tenant}` })
        emails.value = new Map(data.members.map((m) => [m.userId, m.email]))
      } catch {
        // Names are a convenience here: the page shows short ids, and the banner any outage.
      }
    },
    { immediate: true },
  )
  return emails
}
