// The government roles (CONTRACT.md, "Government GraphQL") and the menu each is shown. The
// page hides what a role may not do; the server refuses it anyway.
import type { Membership } from '@/shared/session/portal'

export const GOV_ROLES = ['director', 'inspector', 'analyst'] as const
export type GovRole = (typeof GOV_ROLES)[number]

/** Every government role the person holds, in any division, in the order above. */
export function govRoles(memberships: readonly Membership[]): GovRole[] {
  const held = new Set(memberships.filter((m) => m.domain.startsWith('gov:')).map((m) => m.role))
  return GOV_ROLES.filter((role) => held.has(role))
}

export interface GovMenuItem {
  key: string
  /** The route's name. */
  route: string
  /** The message key of its label. */
  label: string
  roles: readonly GovRole[]
}

const MENU: readonly GovMenuItem[] = [
  { key: 'overview', route: 'home', label: 'govNav.overview', roles: GOV_ROLES },
  { key: 'alarms', route: 'alarms', label: 'govNav.alarms', roles: GOV_ROLES },
  { key: 'reports', route: 'reports', label: 'govNav.reports', roles: GOV_ROLES },
  { key: 'rankings', route: 'rankings', label: 'govNav.rankings', roles: GOV_ROLES },
  { key: 'quality', route: 'quality', label: 'govNav.quality', roles: GOV_ROLES },
  { key: 'inspections', route: 'inspections', label: 'govNav.inspections', roles: GOV_ROLES },
  { key: 'notices', route: 'notices', label: 'govNav.notices', roles: GOV_ROLES },
  { key: 'supervisions', route: 'supervisions', label: 'govNav.supervisions', roles: GOV_ROLES },
]

/** The menu of someone holding these roles. */
export function govMenuFor(roles: readonly GovRole[]): GovMenuItem[] {
  return MENU.filter((item) => item.roles.some((role) => roles.includes(role)))
}

/** Whether the person may act on what they find (督办, notices): a director or an inspector;
 * an analyst reads. */
export function mayAct(memberships: readonly Membership[]): boolean {
  return govRoles(memberships).some((role) => role === 'director' || role === 'inspector')
}
