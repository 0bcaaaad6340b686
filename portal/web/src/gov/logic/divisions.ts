// Divisions of GB/T 2260: a six-digit code names its province (first two digits, then zeros),
// its city (first four) and itself. The names come from the server's answers, never a list
// shipped with the page.
import type { Membership } from '@/shared/session/portal'

const CODE = /^\d{6}$/

export function isDivisionCode(code: unknown): code is string {
  return typeof code === 'string' && CODE.test(code)
}

/** The code and the divisions above it, the province first: 320102 → 320000, 320100, 320102. */
export function lineage(code: string): string[] {
  if (!isDivisionCode(code)) return []
  const chain = [`${code.slice(0, 2)}0000`, `${code.slice(0, 4)}00`, code]
  return chain.filter((c, i) => chain.indexOf(c) === i)
}

/** The divisions the person regulates, from their `gov:<code>` memberships, by code. */
export function governedDivisions(memberships: readonly Membership[]): string[] {
  const codes = memberships
    .filter((m) => m.domain.startsWith('gov:'))
    .map((m) => m.domain.slice('gov:'.length))
    .filter(isDivisionCode)
  return [...new Set(codes)].sort()
}

export interface Crumb {
  code: string
  /** null until an answer named it. */
  name: string | null
  current: boolean
}

/** The way from the person's own division down to `code`: starts at the highest division they
 * regulate on its line (nothing above it is theirs to open); empty when `code` is outside. */
export function breadcrumb(code: string, governed: readonly string[], names: ReadonlyMap<string, string>): Crumb[] {
  const line = lineage(code)
  const start = line.findIndex((c) => governed.includes(c))
  if (start < 0) return []
  return line.slice(start).map((c) => ({ code: c, name: names.get(c) ?? null, current: c === code }))
}

/** The prefix every code inside a division shares, as the server reads it: 320000 → 32,
 * 320100 → 3201, a county its whole code. */
export function divisionPrefix(code: string): string {
  if (code.endsWith('0000')) return code.slice(0, 2)
  if (code.endsWith('00')) return code.slice(0, 4)
  return code
}
