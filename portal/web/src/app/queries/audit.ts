// The tenant's audit trail (owner and safety managers): the GraphQL page and the same filters
// as the CSV export's query string.
export interface AuditEntry {
  id: string
  at: string
  action: string
  actor: { kind: string; id: string | null; email: string | null; name: string | null; role: string | null }
  objectType: string | null
  objectId: string | null
  detail: unknown
}

export const AUDIT_QUERY = `query ConsoleAudit($from: DateTime, $to: DateTime, $action: String, $actorEmail: String,
  $objectType: String, $first: Int!, $after: ID, $tenantId: ID) {
  auditEntries(from: $from, to: $to, action: $action, actorEmail: $actorEmail, objectType: $objectType,
    first: $first, after: $after, tenantId: $tenantId) {
    id at action actor { kind id email name role } objectType objectId detail
  }
}`

/** What the filter form holds: `from`/`to` as a `datetime-local` field gives them (local time). */
export interface AuditFilters {
  from: string
  to: string
  action: string
  actorEmail: string
  objectType: string
}

export const NO_FILTERS: AuditFilters = { from: '', to: '', action: '', actorEmail: '', objectType: '' }

/** The filters as the server takes them: empty ones left out, local times as UTC instants. */
export function auditVariables(filters: AuditFilters, tenantId: string | null): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of ['from', 'to'] as const) {
    const value = filters[name].trim()
    if (value) {
      const at = new Date(value)
      if (Number.isNaN(at.getTime())) throw new RangeError(`${name}: not a time`)
      out[name] = at.toISOString()
    }
  }
  for (const name of ['action', 'actorEmail', 'objectType'] as const) {
    const value = filters[name].trim()
    if (value) out[name] = value
  }
  if (tenantId) out.tenantId = tenantId
  return out
}

export const AUDIT_CSV_PATH = '/api/v1/audit.csv'

export function auditCsvUrl(variables: Record<string, string>): string {
  const query = new URLSearchParams(variables).toString()
  return query ? `${AUDIT_CSV_PATH}?${query}` : AUDIT_CSV_PATH
}

/** The file name the server suggests (`Content-Disposition`), else a plain one. */
export function attachmentName(disposition: string | null): string {
  const found = disposition ? /filename="?([^";]+)"?/.exec(disposition) : null
  return found?.[1] ?? 'audit.csv'
}
