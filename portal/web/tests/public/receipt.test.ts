// Receipt codes as people type them back: forgiven as the server forgives them.
import { describe, expect, it } from 'vitest'

import { normaliseReceipt, receiptFileText } from '@/public/logic/receipt'

describe('normaliseReceipt', () => {
  const code = 'AJ-7K3M-Q9PX-2D4H-VW8T'

  it('keeps a code as the server prints it', () => {
    expect(normaliseReceipt(code)).toBe(code)
  })

  it('ignores case, dashes, spaces and the AJ prefix', () => {
    expect(normaliseReceipt('aj-7k3m-q9px-2d4h-vw8t')).toBe(code)
    expect(normaliseReceipt('7K3MQ9PX2D4HVW8T')).toBe(code)
    expect(normaliseReceipt(' AJ 7K3M Q9PX 2D4H VW8T ')).toBe(code)
    expect(normaliseReceipt('AJ7K3M–Q9PX—2D4H_VW8T')).toBe(code)
  })

  it('reads O as 0 and I or L as 1', () => {
    expect(normaliseReceipt('AJ-OOOO-IIII-LLLL-oil0')).toBe('AJ-0000-1111-1111-0110')
  })

  it('refuses what cannot be a code', () => {
    expect(normaliseReceipt('')).toBeNull()
    expect(normaliseReceipt('AJ-7K3M-Q9PX-2D4H-VW8')).toBeNull() // 15 symbols
    expect(normaliseReceipt('AJ-7K3M-Q9PX-2D4H-VW8TT')).toBeNull() // 17
    expect(normaliseReceipt('AJ-7K3M-Q9PX-2D4H-VW8U')).toBeNull() // U is not Crockford base32
    expect(normaliseReceipt('AJ-7K3M-Q9PX-2D4H-VW8*')).toBeNull()
  })

  it('writes a receipt file that holds the code and where to track it', () => {
    const text = receiptFileText({ heading: 'H', code: `Code: ${code}`, issued: 'At: now', trackAt: 'Track: http://x/#/track', keep: 'Keep it' })
    expect(text.split('\r\n')).toEqual(['H', '', `Code: ${code}`, '', 'At: now', 'Track: http://x/#/track', '', 'Keep it', ''])
  })
})
