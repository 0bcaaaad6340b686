// The proof of work: the bundled SHA-256 against a published vector and Node's own, the bits
// counted, and nonces the searchers find verified independently.
import { createHash } from 'node:crypto'

import { sha256 } from '@noble/hashes/sha2.js'
import { describe, expect, it } from 'vitest'

import { leadingZeroBits, proofHolds, searchNonces, searchProgress } from '@/public/logic/pow'
import { solveOnPage } from '@/public/logic/solver'

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
const nodeZeroBits = (text: string) => leadingZeroBits(new Uint8Array(createHash('sha256').update(text, 'utf8').digest()))

describe('the bundled SHA-256', () => {
  it('gives the FIPS 180-2 digests of "abc" and of the empty string', () => {
    expect(hex(sha256(new TextEncoder().encode('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(hex(sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })
})

describe('leadingZeroBits', () => {
  it('counts whole zero bytes and the zero bits of the first other one', () => {
    expect(leadingZeroBits(Uint8Array.of(0x80, 0))).toBe(0)
    expect(leadingZeroBits(Uint8Array.of(0x01, 0xff))).toBe(7)
    expect(leadingZeroBits(Uint8Array.of(0, 0, 0x10))).toBe(19)
    expect(leadingZeroBits(Uint8Array.of(0, 0))).toBe(16)
  })
})

describe('searchNonces', () => {
  const challenge = 'c2FtcGxlLWNoYWxsZW5nZQ.1764800000.汉字'

  it('finds a nonce whose hash of challenge + nonce (UTF-8) starts with the zero bits asked', () => {
    for (const difficulty of [1, 8, 12, 14]) {
      const search = searchNonces(challenge, difficulty, 0, 1, 1 << 20)
      expect(search.nonce).not.toBeNull()
      expect(nodeZeroBits(challenge + search.nonce)).toBeGreaterThanOrEqual(difficulty)
      expect(proofHolds(challenge, search.nonce!, difficulty)).toBe(true)
      // It is the first: no smaller number proves the work.
      for (let n = 0; n < Number(search.nonce); n++) expect(nodeZeroBits(challenge + n)).toBeLessThan(difficulty)
    }
  })

  it('tries only its own numbers, and says when none of them is one', () => {
    const even = searchNonces(challenge, 10, 0, 2, 1 << 16)
    const odd = searchNonces(challenge, 10, 1, 2, 1 << 16)
    expect(Number(even.nonce) % 2).toBe(0)
    expect(Number(odd.nonce) % 2).toBe(1)
    expect(searchNonces(challenge, 30, 0, 1, 100)).toEqual({ nonce: null, tried: 100 })
  })

  it('refuses a nonce that does not prove the work', () => {
    const { nonce } = searchNonces(challenge, 12, 0, 1, 1 << 20)
    const wrong = [...Array(200).keys()].map(String).find((n) => nodeZeroBits(challenge + n) < 12)!
    expect(proofHolds(challenge, wrong, 12)).toBe(false)
    expect(proofHolds(`${challenge}x`, nonce!, 12)).toBe(nodeZeroBits(`${challenge}x${nonce}`) >= 12)
  })

  it('tells progress as the chance of having found one', () => {
    expect(searchProgress(0, 16)).toBe(0)
    expect(searchProgress(65536, 16)).toBeCloseTo(1 - Math.exp(-1))
    expect(searchProgress(10 * 65536, 16)).toBeGreaterThan(0.99)
  })
})

describe('solveOnPage', () => {
  it('resolves to a nonce that verifies, reporting what it tried', async () => {
    const tried: number[] = []
    const nonce = await solveOnPage('challenge-on-page', 10, { onProgress: (n) => tried.push(n) })
    expect(nodeZeroBits(`challenge-on-page${nonce}`)).toBeGreaterThanOrEqual(10)
    expect(tried.length).toBeGreaterThan(0)
    expect(tried).toEqual([...tried].sort((a, b) => a - b))
  })

  it('stops when cancelled', async () => {
    const controller = new AbortController()
    controller.abort()
    await expect(solveOnPage('x', 40, { signal: controller.signal })).rejects.toThrow('cancelled')
  })
})
