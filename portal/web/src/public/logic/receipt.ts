// Receipt codes (CONTRACT.md): `AJ-` and 16 Crockford base32 symbols in four groups of four.
// People copy them by hand and read them aloud, so what they type is forgiven as the server
// forgives it: any case, any dashes or spaces, O read as 0, I and L as 1; `AJ` may be left off.

const SYMBOLS = /^[0-9A-HJKMNP-TV-Z]{16}$/
const SYMBOL_COUNT = 16

/** The code as the server prints it (`AJ-XXXX-XXXX-XXXX-XXXX`), or null when `typed` is none. */
export function normaliseReceipt(typed: string): string | null {
  let symbols = typed.toUpperCase().replace(/[\s\-‐‑‒–—_.]/g, '')
  if (symbols.length === SYMBOL_COUNT + 2 && symbols.startsWith('AJ')) symbols = symbols.slice(2)
  symbols = symbols.replace(/O/g, '0').replace(/[IL]/g, '1')
  if (!SYMBOLS.test(symbols)) return null
  return `AJ-${symbols.match(/.{4}/g)!.join('-')}`
}

/** The text file a reporter keeps: the code, when it was given, and where to track it. */
export function receiptFileText(lines: { heading: string; code: string; issued: string; trackAt: string; keep: string }): string {
  return [lines.heading, '', lines.code, '', lines.issued, lines.trackAt, '', lines.keep, ''].join('\r\n')
}
