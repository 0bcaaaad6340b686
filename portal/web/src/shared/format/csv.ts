// CSV as Excel opens it: UTF-8 with a byte-order mark (without it Excel shows Chinese as
// mojibake), CRLF line ends, and fields quoted when they hold a separator, a quote or a line
// break. A field starting with = + - @ is prefixed with ' so a spreadsheet does not run it as a
// formula (CSV injection), unless it is a plain number.

export const BOM = '\uFEFF'

export type CsvCell = string | number | null | undefined

const FORMULA = /^[=+\-@\t\r]/
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i

function cell(value: CsvCell): string {
  if (value === null || value === undefined) return ''
  let text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : value
  if (typeof value === 'string' && FORMULA.test(text) && !NUMBER.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** The whole file's text, BOM first. */
export function csvText(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  const lines = [header, ...rows].map((row) => row.map(cell).join(','))
  return `${BOM}${lines.join('\r\n')}\r\n`
}

/** Hand the text to the browser as a download; nothing leaves the page. */
export function downloadCsv(filename: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }))
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  document.body.append(link)
  link.click()
  link.remove()
  // The click has started the download; the URL can go once the event loop moves on.
  setTimeout(() => URL.revokeObjectURL(url), 0)
}
