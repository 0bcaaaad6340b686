// The sound of a new RED alarm, made by the Web Audio API (no audio file to fetch): three
// short two-tone pulses, loud enough to turn a head, short enough not to mask speech.
// Browsers refuse to start audio before the person has interacted with the page, so the
// context is created from the "enable sound" click and only then can anything play.

type AudioContextClass = typeof AudioContext

export interface AlarmSound {
  /** Call from a click: creates (or resumes) the audio context. False when the browser has
   * no Web Audio. */
  enable(): Promise<boolean>
  readonly enabled: boolean
  play(): void
}

export function createAlarmSound(
  contextClass: AudioContextClass | undefined = globalThis.AudioContext,
): AlarmSound {
  let context: AudioContext | null = null

  function pulse(at: number, frequency: number): void {
    if (!context) return
    const oscillator = context.createOscillator()
    const gain = context.createGain()
    oscillator.type = 'square'
    oscillator.frequency.setValueAtTime(frequency, at)
    gain.gain.setValueAtTime(0.0001, at)
    gain.gain.exponentialRampToValueAtTime(0.25, at + 0.01)
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18)
    oscillator.connect(gain).connect(context.destination)
    oscillator.start(at)
    oscillator.stop(at + 0.2)
  }

  return {
    async enable() {
      if (!contextClass) return false
      context ??= new contextClass()
      if (context.state === 'suspended') await context.resume()
      return true
    },
    get enabled() {
      return context !== null && context.state === 'running'
    },
    play() {
      if (!context || context.state !== 'running') return
      const start = context.currentTime + 0.02
      for (let i = 0; i < 3; i += 1) {
        pulse(start + i * 0.5, 880)
        pulse(start + i * 0.5 + 0.22, 660)
      }
    },
  }
}
