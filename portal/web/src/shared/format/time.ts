// Times as people read them: in the browser's own zone, with the UTC value one hover away
// (the server and the audit trail speak UTC; an operator's clock does not).

/** `2026-12-02 21:05:09` in the browser's zone (or `zone`, for tests). */
export function localTime(iso: string, locale: string, zone?: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return new Intl.DateTimeFormat(locale, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
    timeZone: zone,
  }).format(date)
}

/** `2026-12-02 13:05:09 UTC`, for the title attribute. */
export function utcTime(iso: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`
}
