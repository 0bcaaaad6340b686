// The alarm events of the jurisdiction as they happen, over the page's one graphql-ws client
// (the server sends a regulator only those of sites inside the jurisdiction). `live` says
// whether the subscription is connected; after a reconnect the page reloads what it missed.
import { onBeforeUnmount, ref, type Ref } from 'vue'

import { ALARM_EVENTS_SUBSCRIPTION, type AlarmEvent } from '@/app/api'
import { liveClient } from '@/shared/graphql/live'

export function useAlarmEvents(onEvent: (event: AlarmEvent) => void, onReconnect: () => void): { live: Ref<boolean> } {
  const live = ref(false)
  let connectedBefore = false
  const client = liveClient()
  const offConnected = client.on('connected', () => {
    live.value = true
    if (connectedBefore) onReconnect()
    connectedBefore = true
  })
  const offClosed = client.on('closed', () => {
    live.value = false
  })
  const unsubscribe = client.subscribe<{ alarmEvents: AlarmEvent }>(
    { query: ALARM_EVENTS_SUBSCRIPTION },
    {
      next: (result) => {
        if (result.data) onEvent(result.data.alarmEvents)
      },
      // Refused (signed out): the next request turns into the sign-in page.
      error: () => {
        live.value = false
      },
      complete: () => {
        live.value = false
      },
    },
  )
  onBeforeUnmount(() => {
    unsubscribe()
    offConnected()
    offClosed()
  })
  return { live }
}
