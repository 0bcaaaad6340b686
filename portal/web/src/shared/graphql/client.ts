// GraphQL over fetch with the browser session: the cookie goes along (same origin only) and
// every request carries the CSRF header the server requires of cookie-authenticated calls.
// No token is ever read or kept by a script.

export const ENDPOINT = '/graphql'
export const CSRF_HEADER = 'X-Anjian-CSRF'

/** What the server said went wrong: `code` is the contract's `extensions.code`. */
export class GraphQLRequestError extends Error {
  readonly code: string
  readonly retryAfterSeconds: number | null

  constructor(message: string, code: string, retryAfterSeconds: number | null = null) {
    super(message)
    this.name = 'GraphQLRequestError'
    this.code = code
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** The server could not be reached, or answered with something that is not GraphQL. */
export class ServerUnreachableError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ServerUnreachableError'
  }
}

interface GraphQLErrorBody {
  message?: unknown
  extensions?: { code?: unknown; retryAfterSeconds?: unknown }
}

interface GraphQLResponseBody<T> {
  data?: T | null
  errors?: GraphQLErrorBody[]
}

function firstError(errors: GraphQLErrorBody[]): GraphQLRequestError {
  const [error] = errors
  const message = typeof error?.message === 'string' ? error.message : 'unknown error'
  const code = typeof error?.extensions?.code === 'string' ? error.extensions.code : 'UNKNOWN'
  const retry = error?.extensions?.retryAfterSeconds
  return new GraphQLRequestError(message, code, typeof retry === 'number' ? retry : null)
}

export type Variables = Record<string, unknown>

/** How a request ended, as far as the connection is concerned: the server answered (with data
 * or with an error of its own), or it could not be reached. */
export type RequestOutcome =
  | { kind: 'answered'; error: GraphQLRequestError | null }
  | { kind: 'unreachable'; error: ServerUnreachableError }

type OutcomeListener = (outcome: RequestOutcome) => void
const listeners = new Set<OutcomeListener>()

/** Hear how every request ends (the connection banner, the session ending). Returns a function
 * that stops listening. */
export function onRequestOutcome(listener: OutcomeListener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

function report(outcome: RequestOutcome): void {
  for (const listener of listeners) listener(outcome)
}

/** Run one operation; resolves to its `data`, rejects with one of the two errors above. */
export async function request<T>(
  query: string,
  variables: Variables = {},
  fetcher: typeof fetch = fetch,
): Promise<T> {
  try {
    const data = await send<T>(query, variables, fetcher)
    report({ kind: 'answered', error: null })
    return data
  } catch (error) {
    if (error instanceof ServerUnreachableError) report({ kind: 'unreachable', error })
    else if (error instanceof GraphQLRequestError) report({ kind: 'answered', error })
    throw error
  }
}

async function send<T>(query: string, variables: Variables, fetcher: typeof fetch): Promise<T> {
  let response: Response
  try {
    response = await fetcher(ENDPOINT, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/graphql-response+json, application/json',
        [CSRF_HEADER]: '1',
      },
      body: JSON.stringify({ query, variables }),
    })
  } catch (error) {
    throw new ServerUnreachableError(error instanceof Error ? error.message : String(error))
  }
  let body: GraphQLResponseBody<T>
  try {
    body = (await response.json()) as GraphQLResponseBody<T>
  } catch {
    throw new ServerUnreachableError(`HTTP ${response.status} without a GraphQL answer`)
  }
  if (body.errors?.length) throw firstError(body.errors)
  if (body.data == null) throw new ServerUnreachableError(`HTTP ${response.status} without data`)
  return body.data
}
