// The proof of work every report carries (CONTRACT.md, GET /api/v1/reports/challenge): a
// `nonce` such that SHA-256 of the UTF-8 bytes of `challenge + nonce` starts with `difficulty`
// zero bits. The hash is bundled (@noble/hashes): `crypto.subtle` exists only in secure
// contexts, and the portal is often opened over plain HTTP on a LAN address.
import { sha256 } from '@noble/hashes/sha2.js'

const encoder = new TextEncoder()

/** How many zero bits `digest` starts with. */
export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8
      continue
    }
    return bits + Math.clz32(byte) - 24
  }
  return bits
}

function meets(digest: Uint8Array, difficulty: number): boolean {
  const whole = difficulty >> 3
  for (let i = 0; i < whole; i++) if (digest[i] !== 0) return false
  const rest = difficulty & 7
  return rest === 0 || (digest[whole]! & (0xff << (8 - rest)) & 0xff) === 0
}

/** Whether `nonce` proves work on `challenge` at `difficulty`. */
export function proofHolds(challenge: string, nonce: string, difficulty: number): boolean {
  return meets(sha256(encoder.encode(challenge + nonce)), difficulty)
}

export interface Search {
  /** The nonce found, or null when none of the numbers tried is one. */
  nonce: string | null
  /** How many numbers were tried. */
  tried: number
}

/**
 * Tries the nonces `start`, `start + step`, … (`count` of them, written in decimal) and
 * returns the first that proves the work. Several searchers with the same `step` and
 * different `start`s never try the same number.
 */
export function searchNonces(challenge: string, difficulty: number, start: number, step: number, count: number): Search {
  const prefix = encoder.encode(challenge)
  let buffer = new Uint8Array(0)
  let n = start
  for (let tried = 0; tried < count; tried++, n += step) {
    const digits = String(n)
    if (buffer.length !== prefix.length + digits.length) {
      buffer = new Uint8Array(prefix.length + digits.length)
      buffer.set(prefix)
    }
    for (let i = 0; i < digits.length; i++) buffer[prefix.length + i] = digits.charCodeAt(i)
    if (meets(sha256(buffer), difficulty)) return { nonce: digits, tried: tried + 1 }
  }
  return { nonce: null, tried: count }
}

/** The share of searches done after `tried` numbers: the chance a proof was found by then. */
export function searchProgress(tried: number, difficulty: number): number {
  return 1 - Math.exp(-tried / 2 ** difficulty)
}
