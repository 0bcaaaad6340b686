// The colour of a tile: alarm first, then offline, then normal; the online rate as the server
// counts it.
import { describe, expect, it } from 'vitest'

import { highestSeverity, isStale, onlineRate, sensorState } from '@/app/logic/sensor-state'

const now = Date.parse('2026-12-02T12:00:00Z')
const secondsAgo = (s: number) => new Date(now - s * 1000).toISOString()

describe('sensorState', () => {
  it('is normal with a recent reading and no alarm', () => {
    expect(sensorState({ latestTs: secondsAgo(10), alarmSeverities: [], nowMs: now, offlineAfterSeconds: 300 })).toBe(
      'normal',
    )
  })

  it('takes the most severe of its active alarms', () => {
    const state = sensorState({
      latestTs: secondsAgo(10),
      alarmSeverities: ['BLUE', 'RED', 'YELLOW'],
      nowMs: now,
      offlineAfterSeconds: 300,
    })
    expect(state).toBe('RED')
    expect(highestSeverity(['YELLOW', 'ORANGE'])).toBe('ORANGE')
    expect(highestSeverity([])).toBeNull()
  })

  it('is offline past the threshold or without any reading', () => {
    expect(sensorState({ latestTs: secondsAgo(301), alarmSeverities: [], nowMs: now, offlineAfterSeconds: 300 })).toBe(
      'offline',
    )
    expect(sensorState({ latestTs: null, alarmSeverities: [], nowMs: now, offlineAfterSeconds: 300 })).toBe('offline')
  })

  it('keeps the alarm colour on a sensor that went silent', () => {
    expect(sensorState({ latestTs: null, alarmSeverities: ['ORANGE'], nowMs: now, offlineAfterSeconds: 300 })).toBe(
      'ORANGE',
    )
  })

  it('counts a reading exactly at the threshold as online, like the server', () => {
    expect(isStale(secondsAgo(300), now, 300)).toBe(false)
    expect(isStale(secondsAgo(300.001), now, 300)).toBe(true)
    expect(isStale('not a time', now, 300)).toBe(true)
  })
})

describe('onlineRate', () => {
  it('is online sensors over all sensors, null without sensors', () => {
    expect(onlineRate([secondsAgo(1), secondsAgo(2), secondsAgo(999), null], now, 300)).toBe(0.5)
    expect(onlineRate([], now, 300)).toBeNull()
  })
})
