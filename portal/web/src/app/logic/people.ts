// Who may invite whom, and whom remove: a role hands out and takes away only the roles the
// server's GRANTABLE gives it in its own tenant.
import { type EnterpriseRole, GRANTABLE, may } from './roles'

export function tenantDomain(tenantId: string): string {
  return `tenant:${tenantId}`
}

export function invitableRoles(role: EnterpriseRole | null): readonly EnterpriseRole[] {
  return role && may(role, 'membership:create') ? GRANTABLE[role] : []
}

export function mayRemove(myRole: EnterpriseRole | null, memberRole: string, isSelf: boolean): boolean {
  if (isSelf || !myRole || !may(myRole, 'membership:delete')) return false
  return (GRANTABLE[myRole] as readonly string[]).includes(memberRole)
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

export function looksLikeEmail(value: string): boolean {
  return EMAIL.test(value.trim())
}
