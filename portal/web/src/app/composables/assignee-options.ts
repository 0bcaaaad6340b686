// Whom a work order can be assigned to: the tenant's enabled members and its workers, each list
// only when the reader's role may read it (the server refuses the rest anyway).
import { request } from '@/shared/graphql/client'

import { type EnterpriseRole, may } from '../logic/roles'
import { type Member, MEMBERS_QUERY, type Worker, WORKERS_QUERY } from '../queries/people'

export interface AssigneeOptions {
  members: Member[]
  workers: Worker[]
}

export async function loadAssigneeOptions(tenantId: string | null, role: EnterpriseRole | null): Promise<AssigneeOptions> {
  const [members, workers] = await Promise.all([
    tenantId && may(role, 'membership:read')
      ? request<{ members: Member[] }>(MEMBERS_QUERY, { domain: `tenant:${tenantId}` }).then((d) =>
          d.members.filter((m) => !m.disabled),
        )
      : [],
    may(role, 'worker:read')
      ? request<{ workers: Worker[] }>(WORKERS_QUERY, { first: 100, after: null }).then((d) => d.workers)
      : [],
  ])
  return { members, workers }
}
