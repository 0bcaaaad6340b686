// The tenant's idle timeout (会话超时): after how long without use its members are signed out.

export interface TenantSessionSettings {
  id: string
  idleTimeoutMinutes: number | null
  sessionIdleDefaultMinutes: number
}

export const TENANT_SESSION_QUERY = `query TenantSessionSettings {
  tenants { id idleTimeoutMinutes sessionIdleDefaultMinutes }
}`

export const SET_IDLE_TIMEOUT_MUTATION = `mutation SetTenantIdleTimeout($tenantId: ID!, $minutes: Int) {
  setTenantIdleTimeout(tenantId: $tenantId, minutes: $minutes) { id idleTimeoutMinutes sessionIdleDefaultMinutes }
}`

// The choices offered, in minutes (the server takes 5 to 1440). A control room that keeps the
// console open stays signed in whatever is chosen: only a page left closed or unused times out.
export const IDLE_TIMEOUT_CHOICES = [15, 30, 60, 120, 240, 480, 720, 1440] as const
