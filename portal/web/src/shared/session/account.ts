// The account's own mutations outside the sign-in form: a forgotten password (ask for a mail,
// then set a new one with its token), an invitation taken up, the password changed while
// signed in. Refusals are worded from the server's own message (a weak password says why).
import { GraphQLRequestError, request, ServerUnreachableError } from '../graphql/client'
import type { MessageRef } from './sign-in-error'

export const REQUEST_RESET = 'mutation RequestPasswordReset($email: String!) { requestPasswordReset(email: $email) }'
export const RESET_PASSWORD = 'mutation ResetPassword($token: String!, $password: String!) { resetPassword(token: $token, password: $password) }'
export const ACCEPT_INVITATION = `mutation AcceptInvitation($token: String!, $password: String) {
  acceptInvitation(token: $token, password: $password)
}`
export const CHANGE_PASSWORD = 'mutation ChangePassword($current: String!, $new: String!) { changePassword(current: $current, new: $new) }'

export async function requestPasswordReset(email: string): Promise<void> {
  await request(REQUEST_RESET, { email })
}

export async function resetPassword(token: string, password: string): Promise<void> {
  await request(RESET_PASSWORD, { token, password })
}

/** Without a password: as the signed-in invitee; with one: creating the invitee's account. */
export async function acceptInvitation(token: string, password: string | null): Promise<void> {
  await request(ACCEPT_INVITATION, { token, password })
}

export async function changePassword(current: string, next: string): Promise<void> {
  await request(CHANGE_PASSWORD, { current, new: next })
}

/** `token` from the address (`?token=`), or null when absent or repeated. */
export function tokenFrom(query: unknown): string | null {
  return typeof query === 'string' && query.trim() ? query.trim() : null
}

/** A link that is gone (expired, used, revoked) is NOT_FOUND: said as such, with the server's
 * words; any other refusal shows the server's message. */
export function accountErrorMessage(error: unknown): MessageRef {
  if (error instanceof ServerUnreachableError) return { key: 'signIn.unreachable' }
  if (error instanceof GraphQLRequestError) {
    if (error.code === 'RATE_LIMITED') {
      return { key: 'signIn.rateLimited', params: { seconds: error.retryAfterSeconds ?? 60 } }
    }
    if (error.code === 'NOT_FOUND') return { key: 'account.linkGone', params: { message: error.message } }
    return { key: 'account.refused', params: { message: error.message } }
  }
  return { key: 'signIn.failed', params: { message: String(error) } }
}
