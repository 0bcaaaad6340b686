// Subscriptions over graphql-transport-ws on the page's own origin. The server takes the
// session cookie on a WebSocket only when its Origin is the server's own, so nothing secret
// goes into `connection_init`. One client per page, opened on first use, retried for ever:
// a control-room screen must come back by itself after the network does.
import { type Client, createClient } from 'graphql-ws'

import { ENDPOINT } from './client'

let shared: Client | null = null

export function liveUrl(location: Pick<Location, 'protocol' | 'host'> = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}${ENDPOINT}`
}

export function liveClient(): Client {
  shared ??= createClient({
    url: liveUrl(),
    lazy: true,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
  })
  return shared
}
