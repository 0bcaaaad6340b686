// Where a sign-in leads, what it says when it fails, and which language a page starts in.
import { describe, expect, it } from 'vitest'

import { GraphQLRequestError, ServerUnreachableError } from '@/shared/graphql/client'
import { normaliseLocale, pickLocale } from '@/shared/i18n'
import { portalFor, safeNext } from '@/shared/session/portal'
import { signInErrorMessage } from '@/shared/session/sign-in-error'

const tenant = { domain: 'tenant:6c1f0a4e-0000-4000-8000-000000000001', role: 'operator' }
const regulator = { domain: 'gov:320100', role: 'inspector' }

describe('portalFor', () => {
  it('keeps enterprise members in the console and regulators in the government portal', () => {
    expect(portalFor([tenant], 'app')).toBe('app')
    expect(portalFor([regulator], 'gov')).toBe('gov')
  })

  it('sends each to their own portal when they signed in at the other', () => {
    expect(portalFor([regulator], 'app')).toBe('gov')
    expect(portalFor([tenant], 'gov')).toBe('app')
  })

  it('keeps someone with both, or neither, where they are', () => {
    expect(portalFor([tenant, regulator], 'gov')).toBe('gov')
    expect(portalFor([{ domain: 'platform', role: 'platform_admin' }], 'app')).toBe('app')
  })
})

describe('safeNext', () => {
  it('accepts a path inside the portal', () => {
    expect(safeNext('/alarms/123?tab=timeline')).toBe('/alarms/123?tab=timeline')
  })

  it.each([undefined, null, 42, '', 'alarms', '//evil.example/x', '/\\evil.example', 'https://evil.example', '/login', '/login?next=/x'])(
    'refuses %s',
    (next) => {
      expect(safeNext(next)).toBe('/')
    },
  )
})

describe('signInErrorMessage', () => {
  it('says only "wrong email or password" for refused credentials', () => {
    expect(signInErrorMessage(new GraphQLRequestError('no such user', 'UNAUTHENTICATED'))).toEqual({
      key: 'signIn.wrongCredentials',
    })
  })

  it('says how long to wait when throttled', () => {
    const error = new GraphQLRequestError('slow down', 'RATE_LIMITED', 30)
    expect(signInErrorMessage(error)).toEqual({ key: 'signIn.rateLimited', params: { seconds: 30 } })
  })

  it("shows the server's words for anything else, and says when it cannot be reached", () => {
    const error = new GraphQLRequestError("Cannot query field 'signIn'", 'BAD_USER_INPUT')
    expect(signInErrorMessage(error)).toEqual({
      key: 'signIn.failed',
      params: { message: "Cannot query field 'signIn'" },
    })
    expect(signInErrorMessage(new ServerUnreachableError('offline'))).toEqual({ key: 'signIn.unreachable' })
  })
})

describe('pickLocale', () => {
  it('starts in Chinese', () => {
    expect(pickLocale('', null)).toBe('zh-CN')
  })

  it('takes ?lang= first, then the remembered choice', () => {
    expect(pickLocale('?lang=en', 'zh-CN')).toBe('en')
    expect(pickLocale('?lang=zh', 'en')).toBe('zh-CN')
    expect(pickLocale('', 'en')).toBe('en')
    expect(pickLocale('?lang=fr', 'en')).toBe('en')
  })

  it('reads the usual spellings', () => {
    expect(normaliseLocale('en-US')).toBe('en')
    expect(normaliseLocale('zh-cn')).toBe('zh-CN')
    expect(normaliseLocale('  ')).toBeNull()
  })
})
