// How long `Retry-After` asks to wait, as a person reads it: seconds under two minutes, else
// whole minutes (rounded up).
export function waitParts(seconds: number): { unit: 'seconds' | 'minutes'; n: number } {
  if (seconds < 120) return { unit: 'seconds', n: Math.max(1, Math.ceil(seconds)) }
  return { unit: 'minutes', n: Math.ceil(seconds / 60) }
}
