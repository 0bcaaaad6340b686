// A new RED alarm is announced once, sounds only after "enable sound" and not while muted;
// the sound is made by Web Audio oscillators, not a file.
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'

import type { AlarmEvent } from '@/app/api'
import { createAlarmSound } from '@/app/logic/alarm-sound'
import { useAlarmFeedStore } from '@/app/stores/alarm-feed'

function raised(id: string, severity: AlarmEvent['alarm']['severity'] = 'RED'): AlarmEvent {
  return { kind: 'RAISED', alarm: { id, severity, status: 'ACTIVE_UNACKNOWLEDGED', siteId: 's1', sensorId: null } }
}

class FakeContext {
  static made = 0
  static last: FakeContext | null = null
  state: AudioContextState = 'suspended'
  currentTime = 0
  destination = {}
  started = 0
  constructor() {
    FakeContext.made += 1
    FakeContext.last = this
  }
  async resume() {
    this.state = 'running'
  }
  createOscillator() {
    const context = this
    return {
      type: 'sine',
      frequency: { setValueAtTime() {} },
      connect: (node: unknown) => node,
      start() {
        context.started += 1
      },
      stop() {},
    }
  }
  createGain() {
    return {
      gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} },
      connect: (node: unknown) => node,
    }
  }
}

beforeEach(() => {
  setActivePinia(createPinia())
  FakeContext.made = 0
  FakeContext.last = null
})

describe('the alarm feed', () => {
  it('announces each new RED once, and no other severity', () => {
    const feed = useAlarmFeedStore()
    feed.hear(raised('1'))
    feed.hear(raised('1'))
    feed.hear(raised('2', 'ORANGE'))
    feed.hear({ ...raised('3'), kind: 'SEVERITY_CHANGED' })
    expect(feed.announcements.map((a) => a.alarmId)).toEqual(['3', '1'])
  })

  it('passes every event to the pages listening', () => {
    const feed = useAlarmFeedStore()
    const heard: string[] = []
    const off = feed.onEvent((event) => heard.push(event.kind))
    feed.hear({ ...raised('1'), kind: 'CLEARED' })
    off()
    feed.hear(raised('2'))
    expect(heard).toEqual(['CLEARED'])
  })

  it('plays only after the sound was enabled, and not while muted', async () => {
    const feed = useAlarmFeedStore()
    feed.useSound(createAlarmSound(FakeContext as unknown as typeof AudioContext))
    feed.hear(raised('1'))
    expect(FakeContext.made).toBe(0) // no audio context before the click

    await feed.enableSound()
    expect(feed.soundEnabled).toBe(true)
    feed.hear(raised('2'))
    expect(FakeContext.last!.started).toBe(6) // three two-tone pulses

    feed.setMuted(true)
    feed.hear(raised('3'))
    expect(FakeContext.last!.started).toBe(6)
    feed.setMuted(false)
    feed.hear(raised('4'))
    expect(FakeContext.last!.started).toBe(12)
    expect(feed.announcements).toHaveLength(4)
  })

  it('stays silent until its context runs', async () => {
    const sound = createAlarmSound(FakeContext as unknown as typeof AudioContext)
    sound.play()
    expect(sound.enabled).toBe(false)
    expect(await sound.enable()).toBe(true)
    expect(sound.enabled).toBe(true)
    expect(FakeContext.made).toBe(1)
  })

  it('says so when the browser has no Web Audio', async () => {
    const feed = useAlarmFeedStore()
    feed.useSound(createAlarmSound(undefined))
    await feed.enableSound()
    expect(feed.soundEnabled).toBe(false)
    expect(feed.soundUnavailable).toBe(true)
  })
})

describe('alarms seen in lists', () => {
  const red = (id: string) => ({ id, severity: 'RED' as const })

  it('learns each list first, then announces the REDs that appear in it', () => {
    setActivePinia(createPinia())
    const feed = useAlarmFeedStore()
    feed.notice('overview:s1', [red('1')])
    feed.notice('alarms:ALL', [red('1'), red('2')]) // a wider list opened later: old alarms
    expect(feed.announcements).toHaveLength(0)
    feed.notice('alarms:ALL', [red('3'), red('1'), red('2')])
    feed.notice('overview:s1', [red('3'), red('1')])
    expect(feed.announcements.map((a) => a.alarmId)).toEqual(['3'])
  })

  it('announces an alarm upgraded to RED after the list was learned', () => {
    setActivePinia(createPinia())
    const feed = useAlarmFeedStore()
    feed.notice('alarms:OPEN', [{ id: '7', severity: 'ORANGE' }])
    feed.notice('alarms:OPEN', [red('7')])
    expect(feed.announcements.map((a) => a.alarmId)).toEqual(['7'])
  })
})

describe('the subscription connecting and dropping', () => {
  it('tells the pages once per change, so they reload at once', () => {
    setActivePinia(createPinia())
    const feed = useAlarmFeedStore()
    let reloads = 0
    const off = feed.onLiveChange(() => (reloads += 1))
    feed.liveChanged(true)
    feed.liveChanged(true)
    feed.liveChanged(false)
    off()
    feed.liveChanged(true)
    expect(reloads).toBe(2)
    expect(feed.live).toBe(true)
  })
})
