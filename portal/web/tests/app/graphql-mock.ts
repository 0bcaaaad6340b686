// A fetch that answers GraphQL by operation name, and remembers what it was asked.
import { vi } from 'vitest'

export interface Asked {
  operation: string
  query: string
  variables: Record<string, unknown>
}

type Resolver = (variables: Record<string, unknown>) => unknown
type Answer = Resolver | { data?: unknown; errors?: unknown }

export function graphqlFetch(answers: Record<string, Answer>) {
  const asked: Asked[] = []
  const fetcher = vi.fn(async (_url: string, init?: RequestInit) => {
    const body = JSON.parse(String(init?.body)) as { query: string; variables: Record<string, unknown> }
    const operation = /(?:query|mutation)\s+(\w+)/.exec(body.query)?.[1] ?? ''
    asked.push({ operation, query: body.query, variables: body.variables })
    const answer = answers[operation]
    if (answer === undefined) throw new Error(`unexpected operation ${operation}`)
    const data = typeof answer === 'function' ? answer(body.variables) : answer
    return new Response(JSON.stringify(data), { headers: { 'Content-Type': 'application/json' } })
  })
  vi.stubGlobal('fetch', fetcher)
  return { fetcher, asked }
}
