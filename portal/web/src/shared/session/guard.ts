// Pages of a portal need a session; the sign-in page does not. Not signed in: to the sign-in
// page, which brings the person back to where they were going (`next`). A session the server
// ends while a page is open (expired, revoked) does the same at the first request it refuses.
import type { Router } from 'vue-router'

import { onRequestOutcome } from '../graphql/client'
import { useSessionStore } from './store'

declare module 'vue-router' {
  interface RouteMeta {
    /** Shown without a session (the sign-in page). */
    public?: boolean
  }
}

export function installSessionGuard(router: Router): () => void {
  router.beforeEach(async (to) => {
    if (to.meta.public) return true
    const session = useSessionStore()
    const status = session.status === 'signed-in' ? 'signed-in' : await session.load()
    if (status !== 'signed-out') {
      // `unreachable` shows the page with the connection banner rather than a sign-in form
      // that the server could not answer either.
      return true
    }
    const query: Record<string, string> = { next: to.fullPath }
    if (session.ended) query.ended = '1'
    return { name: 'login', query }
  })

  return onRequestOutcome((outcome) => {
    if (outcome.kind !== 'answered' || outcome.error?.code !== 'UNAUTHENTICATED') return
    const current = router.currentRoute.value
    // On the sign-in page UNAUTHENTICATED means wrong credentials, which that page words.
    if (current.meta.public) return
    const session = useSessionStore()
    session.expire()
    void router.replace({ name: 'login', query: { next: current.fullPath, ended: '1' } })
  })
}
