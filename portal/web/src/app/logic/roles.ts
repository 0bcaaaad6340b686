// What each enterprise role may do, as the server's role templates say (backend/auth/authz.py
// ROLE_TEMPLATES), for the parts the console shows. The page hides what a role may not do;
// the server refuses it anyway.
import type { Membership } from '@/shared/session/portal'

export const ENTERPRISE_ROLES = ['owner', 'safety_manager', 'operator', 'viewer'] as const
export type EnterpriseRole = (typeof ENTERPRISE_ROLES)[number]

type Action = 'read' | 'create' | 'update' | 'delete' | 'verify'
type PermissionObject =
  | 'tenant'
  | 'site'
  | 'zone'
  | 'device'
  | 'sensor'
  | 'telemetry'
  | 'alarm'
  | 'alarm_rule'
  | 'worker'
  | 'membership'
  | 'work_order'
  | 'handover'
  | 'hazard_unit'
  | 'notice'
  | 'supervision'
  | 'audit'

export type Permission = `${PermissionObject}:${Action}`

// (object, action) pairs, `*` for any, exactly as the server's templates are written.
type Template = readonly (readonly [PermissionObject | '*', Action | '*'])[]

const READ_OPERATIONS: readonly PermissionObject[] = ['site', 'zone', 'device', 'sensor', 'telemetry', 'alarm', 'alarm_rule']
const reads = READ_OPERATIONS.map((o) => [o, 'read'] as const)

const TEMPLATES: Record<EnterpriseRole, Template> = {
  owner: [['*', '*']],
  safety_manager: [
    ['site', 'read'],
    ['site', 'update'],
    ['zone', '*'],
    ['device', '*'],
    ['sensor', '*'],
    ['worker', '*'],
    ['telemetry', 'read'],
    ['alarm', '*'],
    ['alarm_rule', '*'],
    ['membership', 'read'],
    ['membership', 'create'],
    ['membership', 'delete'],
    ['audit', 'read'],
    ['work_order', '*'],
    ['handover', '*'],
    ['hazard_unit', '*'],
    // Answering a rectification notice is its update; regulators issue them.
    ['notice', 'read'],
    ['notice', 'update'],
    // Reporting on a supervised alarm (督办) is its update; regulators request them.
    ['supervision', 'read'],
    ['supervision', 'update'],
  ],
  // "alarm update" is handling an alarm: acknowledge, dispatch, clear, close.
  operator: [
    ...reads,
    ['worker', 'read'],
    ['alarm', 'update'],
    ['work_order', 'read'],
    ['work_order', 'create'],
    ['work_order', 'update'],
    ['handover', 'read'],
    ['handover', 'create'],
    ['handover', 'update'],
    ['hazard_unit', 'read'],
    ['notice', 'read'],
    ['supervision', 'read'],
  ],
  viewer: [
    ...reads,
    ['work_order', 'read'],
    ['handover', 'read'],
    ['hazard_unit', 'read'],
    ['notice', 'read'],
    ['supervision', 'read'],
  ],
}

/** The roles each role may hand out in its own tenant (the server's GRANTABLE). */
export const GRANTABLE: Record<EnterpriseRole, readonly EnterpriseRole[]> = {
  owner: ENTERPRISE_ROLES,
  safety_manager: ['operator', 'viewer'],
  operator: [],
  viewer: [],
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
  if (role === null) return false
  const [object, action] = permission.split(':')
  return TEMPLATES[role].some(([o, a]) => (o === '*' || o === object) && (a === '*' || a === action))
}

/** The caller's role in the tenant a site belongs to. */
export function roleForSite(memberships: readonly Membership[], site: { tenantId: string } | null): EnterpriseRole | null {
  return site ? roleInTenant(memberships, site.tenantId) : null
}

export type MenuKey =
  | 'overview'
  | 'alarms'
  | 'history'
  | 'workOrders'
  | 'handovers'
  | 'devices'
  | 'hazards'
  | 'notices'
  | 'people'
  | 'permits'
  | 'audit'

export interface MenuItem {
  key: MenuKey
  /** The route's name. */
  route: string
  /** The message key of its label. */
  label: string
  /** Shown to a role holding any of these. */
  needs: readonly Permission[]
}

const MENU: readonly MenuItem[] = [
  { key: 'overview', route: 'home', label: 'nav.overview', needs: ['site:read'] },
  { key: 'alarms', route: 'alarms', label: 'nav.alarms', needs: ['alarm:read'] },
  { key: 'history', route: 'sensor-history', label: 'nav.history', needs: ['telemetry:read'] },
  { key: 'workOrders', route: 'work-orders', label: 'nav.workOrders', needs: ['work_order:read'] },
  { key: 'handovers', route: 'handovers', label: 'nav.handovers', needs: ['handover:read'] },
  { key: 'devices', route: 'devices', label: 'nav.devices', needs: ['device:read'] },
  { key: 'hazards', route: 'hazards', label: 'nav.hazards', needs: ['hazard_unit:read'] },
  { key: 'notices', route: 'notices', label: 'nav.notices', needs: ['notice:read'] },
  { key: 'people', route: 'people', label: 'nav.people', needs: ['membership:read', 'worker:read'] },
  { key: 'permits', route: 'permits', label: 'nav.permits', needs: ['zone:read'] },
  { key: 'audit', route: 'audit', label: 'nav.audit', needs: ['audit:read'] },
]

/** The menu of someone holding these roles: an item shows when any of them may use it. */
export function menuFor(roles: readonly EnterpriseRole[]): MenuItem[] {
  return MENU.filter((item) => roles.some((role) => item.needs.some((permission) => may(role, permission))))
}
