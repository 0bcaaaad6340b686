// The GraphQL of members, invitations and workers (人员).

export interface Member {
  userId: string
  email: string
  domain: string
  role: string
  since: string
  disabled: boolean
}

export const MEMBERS_QUERY = `query ConsoleMembers($domain: String!) {
  members(domain: $domain) { userId email domain role since disabled }
}`

export const INVITE_MUTATION = `mutation InviteUser($domain: String!, $email: String!, $role: String!) {
  inviteUser(domain: $domain, email: $email, role: $role) { email domain role expiresAt }
}`

export interface Invitation {
  email: string
  domain: string
  role: string
  expiresAt: string
}

export const REMOVE_MEMBER_MUTATION = `mutation RemoveMember($domain: String!, $userId: ID!) {
  removeMember(domain: $domain, userId: $userId)
}`

export const DISABLE_USER_MUTATION = `mutation DisableUser($userId: ID!) { disableUser(userId: $userId) }`
export const ENABLE_USER_MUTATION = `mutation EnableUser($userId: ID!) { enableUser(userId: $userId) }`

export interface Worker {
  id: string
  name: string
  mobile: string | null
  idNumber: string | null
  employeeNumber: string
  siteId: string | null
}

const WORKER_FIELDS = 'id name mobile idNumber employeeNumber siteId'

export const WORKERS_QUERY = `query ConsoleWorkers($first: Int!, $after: ID) {
  workers(first: $first, after: $after) { ${WORKER_FIELDS} }
}`

export const CREATE_WORKER_MUTATION = `mutation CreateWorker($tenantId: ID!, $name: String!, $employeeNumber: String!,
  $mobile: String, $idNumber: String, $siteId: ID) {
  createWorker(tenantId: $tenantId, name: $name, employeeNumber: $employeeNumber, mobile: $mobile,
    idNumber: $idNumber, siteId: $siteId) { ${WORKER_FIELDS} }
}`
