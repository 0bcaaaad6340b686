// ECharts reports a zoom in two shapes: the slider sends `start`/`end`, the mouse wheel and
// touch (the "inside" zoom) send them in a `batch`. Both are percentages of the axis extent.

interface Range {
  start?: unknown
  end?: unknown
}

export function zoomPercent(event: unknown): { start: number; end: number } | null {
  if (typeof event !== 'object' || event === null) return null
  const batch = (event as { batch?: unknown }).batch
  const source = (Array.isArray(batch) && batch.length ? batch[0] : event) as Range
  if (typeof source.start !== 'number' || typeof source.end !== 'number') return null
  const start = Math.max(0, Math.min(100, source.start))
  const end = Math.max(start, Math.min(100, source.end))
  return { start, end }
}
