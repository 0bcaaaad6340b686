// Who is signed in, as the server says: the session lives in an HttpOnly cookie that no
// script can read, so the only way to know is to ask (`me`).
import { defineStore } from 'pinia'
import { ref } from 'vue'

import { GraphQLRequestError, request, ServerUnreachableError } from '../graphql/client'
import type { Membership } from './portal'

export interface Me {
  email: string
  memberships: Membership[]
}

/** `unknown` until asked; `unreachable` when the last question got no answer. */
export type SessionStatus = 'unknown' | 'signed-in' | 'signed-out' | 'unreachable'

const ME_FIELDS = 'me { email memberships { domain role } }'
const ME_QUERY = `query Me { ${ME_FIELDS} }`
const SIGN_IN = `mutation SignIn($email: String!, $password: String!) {
  signIn(email: $email, password: $password) { ${ME_FIELDS} }
}`
const SIGN_OUT = 'mutation SignOut { signOut }'

export const useSessionStore = defineStore('session', () => {
  const me = ref<Me | null>(null)
  const status = ref<SessionStatus>('unknown')
  /** The server ended a session this page had (expired, revoked): say so at sign-in. */
  const ended = ref(false)

  async function load(): Promise<SessionStatus> {
    try {
      const data = await request<{ me: Me | null }>(ME_QUERY)
      me.value = data.me
      status.value = data.me ? 'signed-in' : 'signed-out'
    } catch (error) {
      if (error instanceof GraphQLRequestError && error.code === 'UNAUTHENTICATED') {
        me.value = null
        status.value = 'signed-out'
      } else if (error instanceof ServerUnreachableError) {
        status.value = 'unreachable'
      } else {
        throw error
      }
    }
    return status.value
  }

  /** Rejects with the server's error; the page words it (see `signInErrorMessage`). */
  async function signIn(email: string, password: string): Promise<Me> {
    const data = await request<{ signIn: { me: Me } }>(SIGN_IN, { email, password })
    me.value = data.signIn.me
    status.value = 'signed-in'
    ended.value = false
    return data.signIn.me
  }

  async function signOut(): Promise<void> {
    try {
      await request(SIGN_OUT)
    } finally {
      me.value = null
      status.value = 'signed-out'
    }
  }

  /** A request answered UNAUTHENTICATED while signed in: the session is over. */
  function expire(): void {
    if (status.value === 'signed-in') ended.value = true
    me.value = null
    status.value = 'signed-out'
  }

  return { me, status, ended, load, signIn, signOut, expire }
})
