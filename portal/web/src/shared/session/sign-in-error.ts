// The sentence a sign-in page shows for a failed attempt. Wrong credentials get one message
// whatever was wrong (the server says no more either); a throttled attempt says how long to
// wait; anything else shows the server's own words.
import { GraphQLRequestError, ServerUnreachableError } from '../graphql/client'

export interface MessageRef {
  key: string
  params?: Record<string, string | number>
}

export function signInErrorMessage(error: unknown): MessageRef {
  if (error instanceof ServerUnreachableError) return { key: 'signIn.unreachable' }
  if (error instanceof GraphQLRequestError) {
    if (error.code === 'UNAUTHENTICATED') return { key: 'signIn.wrongCredentials' }
    if (error.code === 'RATE_LIMITED') {
      return { key: 'signIn.rateLimited', params: { seconds: error.retryAfterSeconds ?? 60 } }
    }
    return { key: 'signIn.failed', params: { message: error.message } }
  }
  return { key: 'signIn.failed', params: { message: String(error) } }
}
