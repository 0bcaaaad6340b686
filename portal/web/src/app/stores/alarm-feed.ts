// New RED alarms, announced on every page of the console: from the `alarmEvents`
// subscription as they happen, and from every alarm list a page loads (which covers the time
// the subscription was down). The first answer to each list (each page and filter) only
// teaches what was already there, so opening a wider filter does not announce old alarms as
// new. Sound plays only after the person pressed "enable sound", and not while muted.
import { defineStore } from 'pinia'
import { ref } from 'vue'

import { liveClient } from '@/shared/graphql/live'

import { ALARM_EVENTS_SUBSCRIPTION, type AlarmEvent } from '../api'
import { type AlarmSound, createAlarmSound } from '../logic/alarm-sound'
import type { Severity } from '../logic/sensor-state'

export interface Announcement {
  alarmId: string
  siteId: string | null
  at: number
}

type EventListener = (event: AlarmEvent) => void

export const useAlarmFeedStore = defineStore('alarm-feed', () => {
  const announcements = ref<Announcement[]>([])
  const soundEnabled = ref(false)
  const soundUnavailable = ref(false)
  const muted = ref(false)
  /** Whether the subscription is connected (the pages poll either way). */
  const live = ref(false)

  const known = new Set<string>()
  const primed = new Set<string>()
  let sound: AlarmSound = createAlarmSound()
  const listeners = new Set<EventListener>()
  const liveListeners = new Set<() => void>()
  let stop: (() => void) | null = null

  function announce(alarmId: string, siteId: string | null): void {
    announcements.value = [{ alarmId, siteId, at: Date.now() }, ...announcements.value].slice(0, 20)
    if (soundEnabled.value && !muted.value) sound.play()
  }

  function consider(alarmId: string, severity: Severity, siteId: string | null): void {
    if (severity !== 'RED' || known.has(alarmId)) return
    known.add(alarmId)
    announce(alarmId, siteId)
  }

  /** Alarms a page loaded for a list (`scope`: the page and its filters). */
  function notice(scope: string, alarms: readonly { id: string; severity: Severity; site?: { id: string } }[]): void {
    if (!primed.has(scope)) {
      for (const alarm of alarms) if (alarm.severity === 'RED') known.add(alarm.id)
      primed.add(scope)
      return
    }
    for (const alarm of alarms) consider(alarm.id, alarm.severity, alarm.site?.id ?? null)
  }

  function hear(event: AlarmEvent): void {
    if (event.kind === 'RAISED' || event.kind === 'SEVERITY_CHANGED') {
      consider(event.alarm.id, event.alarm.severity, event.alarm.siteId)
    }
    for (const listener of listeners) listener(event)
  }

  /** Pages refresh on events; returns a function that stops listening. */
  function onEvent(listener: EventListener): () => void {
    listeners.add(listener)
    return () => listeners.delete(listener)
  }

  /** The subscription connected or dropped. Pages reload at once: after a drop, a request
   * tells within a moment whether the server is gone (and raises the banner); after a
   * reconnect, it fetches what happened in between. Returns a function that stops it. */
  function onLiveChange(listener: () => void): () => void {
    liveListeners.add(listener)
    return () => liveListeners.delete(listener)
  }

  function liveChanged(connected: boolean): void {
    if (live.value === connected) return
    live.value = connected
    for (const listener of liveListeners) listener()
  }

  function start(): void {
    if (stop) return
    const client = liveClient()
    const offConnected = client.on('connected', () => liveChanged(true))
    const offClosed = client.on('closed', () => liveChanged(false))
    const unsubscribe = client.subscribe<{ alarmEvents: AlarmEvent }>(
      { query: ALARM_EVENTS_SUBSCRIPTION },
      {
        next: (result) => {
          if (result.data) hear(result.data.alarmEvents)
        },
        // The client retries for ever; an error here is a refused subscription (signed out),
        // which the next polled request turns into the sign-in page.
        error: () => liveChanged(false),
        complete: () => liveChanged(false),
      },
    )
    stop = () => {
      unsubscribe()
      offConnected()
      offClosed()
      stop = null
    }
  }

  async function enableSound(): Promise<void> {
    const ok = await sound.enable()
    soundEnabled.value = ok && sound.enabled
    soundUnavailable.value = !ok
    muted.value = false
  }

  function setMuted(value: boolean): void {
    muted.value = value
  }

  function dismiss(alarmId: string): void {
    announcements.value = announcements.value.filter((a) => a.alarmId !== alarmId)
  }

  function dismissAll(): void {
    announcements.value = []
  }

  /** For tests: a sound that records instead of playing. */
  function useSound(replacement: AlarmSound): void {
    sound = replacement
  }

  return {
    announcements,
    soundEnabled,
    soundUnavailable,
    muted,
    live,
    notice,
    hear,
    onEvent,
    onLiveChange,
    liveChanged,
    start,
    stop: () => stop?.(),
    enableSound,
    setMuted,
    dismiss,
    dismissAll,
    useSound,
  }
})
