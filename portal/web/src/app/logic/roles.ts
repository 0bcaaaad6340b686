// What each enterprise role may do, as the server's role templates say (backend/auth/authz.py
// ROLE_TEMPLATES), for the parts the console shows. The page hides what a role may not do;
// the server refuses it anyway.
import type { Membership } from '@/shared/session/portal'

export const ENTERPRISE_ROLES = ['owner', 'safety_manager', 'operator', 'viewer'] as const
export type EnterpriseRole = (typeof ENTERPRISE_ROLES)[number]

export type Permission = 'site:read' | 'alarm:read' | 'alarm:update' | 'telemetry:read'

const PERMISSIONS: Record<EnterpriseRole, readonly Permission[]> = {
  owner: ['site:read', 'alarm:read', 'alarm:update', 'telemetry:read'],
  safety_manager: ['site:read', 'alarm:read', 'alarm:update', 'telemetry:read'],
  // "alarm update" is handling an alarm: acknowledge, dispatch, clear, close.
  operator: ['site:read', 'alarm:read', 'alarm:update', 'telemetry:read'],
  viewer: ['site:read', 'alarm:read', 'telemetry:read'],
}

function isEnterpriseRole(role: string): role is EnterpriseRole {
  return (ENTERPRISE_ROLES as readonly string[]).includes(role)
}

/** The caller's role in a tenant (`tenant:<uuid>`), or null when it has none there. */
export function roleInTenant(memberships: readonly Membership[], tenantId: string): EnterpriseRole | null {
  const found = memberships.find((m) => m.domain === `tenant:${tenantId}` && isEnterpriseRole(m.role))
  return found ? (found.role as EnterpriseRole) : null
}

/** Every enterprise role the caller holds, in any tenant. */
export function enterpriseRoles(memberships: readonly Membership[]): EnterpriseRole[] {
  const roles = memberships
    .filter((m) => m.domain.startsWith('tenant:'))
    .map((m) => m.role)
    .filter(isEnterpriseRole)
  return [...new Set(roles)]
}

export function may(role: EnterpriseRole | null, permission: Permission): boolean {
  return role !== null && PERMISSIONS[role].includes(permission)
}

export type MenuKey = 'overview' | 'alarms' | 'history'

export interface MenuItem {
  key: MenuKey
  /** The route's name. */
  route: string
  /** The message key of its label. */
  label: string
  needs: Permission
}

const MENU: readonly MenuItem[] = [
  { key: 'overview', route: 'home', label: 'nav.overview', needs: 'site:read' },
  { key: 'alarms', route: 'alarms', label: 'nav.alarms', needs: 'alarm:read' },
  { key: 'history', route: 'sensor-history', label: 'nav.history', needs: 'telemetry:read' },
]

/** The menu of someone holding these roles: an item shows when any of them may use it. */
export function menuFor(roles: readonly EnterpriseRole[]): MenuItem[] {
  return MENU.filter((item) => roles.some((role) => may(role, item.needs)))
}
