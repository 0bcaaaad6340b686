// Which portal a signed-in person belongs in, and where a sign-in may send them next.

export type Portal = 'app' | 'gov'

export interface Membership {
  domain: string
  role: string
}

/** `tenant:<uuid>` memberships belong in the enterprise console, `gov:<code>` in the
 * government portal. Someone with both stays where they signed in; someone with neither
 * (a platform administrator) too. */
export function portalFor(memberships: readonly Membership[], current: Portal): Portal {
  const enterprise = memberships.some((m) => m.domain.startsWith('tenant:'))
  const government = memberships.some((m) => m.domain.startsWith('gov:'))
  if (current === 'app' ? enterprise : government) return current
  if (enterprise) return 'app'
  if (government) return 'gov'
  return current
}

/** The `next` a sign-in page was given, if it is a path inside this portal; else home.
 * Anything that could leave the page's origin (`//host`, `/\host`, `https:`) is refused. */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !next.startsWith('/')) return '/'
  if (next.startsWith('//') || next.includes('\\') || /[\u0000-\u001f]/.test(next)) return '/'
  if (next === '/login' || next.startsWith('/login?') || next.startsWith('/login/')) return '/'
  return next
}
