// The history chart's data: the min/max band and the mean line from telemetry buckets, the
// alarm setpoints as mark lines, and the same buckets as CSV.
import { csvText } from '@/shared/format/csv'

import type { TelemetryBucket } from '../api'
import type { Severity } from './sensor-state'

export interface Setpoint {
  name: string
  severity: Severity
  setpoint: number
}

export interface HistoryLabels {
  min: string
  max: string
  avg: string
  band: string
}

const SETPOINT_COLOURS: Record<Severity, string> = {
  RED: '#b42318',
  ORANGE: '#c2410c',
  YELLOW: '#ca8a04',
  BLUE: '#1d4ed8',
}

export function historyOption(buckets: readonly TelemetryBucket[], setpoints: readonly Setpoint[], labels: HistoryLabels, unit: string) {
  const times = buckets.map((b) => b.ts)
  const limits = setpoints.map((s) => s.setpoint)
  return {
    animation: false,
    grid: { left: 56, right: 24, top: 32, bottom: 72 },
    tooltip: { trigger: 'axis' },
    legend: { data: [labels.avg, labels.band], top: 0 },
    xAxis: { type: 'time' },
    // The axis reaches the setpoints, so the distance to an alarm is seen at a glance.
    yAxis: {
      type: 'value',
      name: unit,
      scale: true,
      min: (extent: { min: number }) => Math.min(extent.min, ...limits),
      max: (extent: { max: number }) => Math.max(extent.max, ...limits),
    },
    dataZoom: [{ type: 'inside' }, { type: 'slider', bottom: 16 }],
    series: [
      {
        // The band: an invisible line at the minimum, and the max−min stacked on it, filled.
        name: labels.min,
        type: 'line',
        stack: 'band',
        symbol: 'none',
        lineStyle: { opacity: 0 },
        tooltip: { show: false },
        data: buckets.map((b, i) => [times[i], b.min]),
      },
      {
        name: labels.band,
        type: 'line',
        stack: 'band',
        symbol: 'none',
        lineStyle: { opacity: 0 },
        areaStyle: { color: 'rgba(29, 78, 216, 0.18)' },
        itemStyle: { color: 'rgba(29, 78, 216, 0.35)' },
        tooltip: { show: false },
        data: buckets.map((b, i) => [times[i], b.max - b.min]),
      },
      {
        name: labels.avg,
        type: 'line',
        symbol: 'none',
        sampling: 'lttb',
        itemStyle: { color: '#1d4ed8' },
        data: buckets.map((b, i) => [times[i], b.avg]),
        markLine: {
          symbol: 'none',
          silent: true,
          data: setpoints.map((s) => ({
            name: s.name,
            yAxis: s.setpoint,
            lineStyle: { color: SETPOINT_COLOURS[s.severity], type: 'dashed' },
            // Inside the plot, above the line: at the end outside it the label is cut off.
            label: {
              formatter: `${s.name} ${s.setpoint}`,
              color: SETPOINT_COLOURS[s.severity],
              position: 'insideEndTop',
            },
          })),
        },
      },
    ],
  }
}

export interface CsvHeader {
  utc: string
  local: string
  min: string
  avg: string
  max: string
  count: string
}

/** The buckets shown, one row each: UTC and local time, min, mean, max, readings. */
export function historyCsv(buckets: readonly TelemetryBucket[], header: CsvHeader, local: (iso: string) => string): string {
  return csvText(
    [header.utc, header.local, header.min, header.avg, header.max, header.count],
    buckets.map((b) => [b.ts, local(b.ts), b.min, b.avg, b.max, b.count]),
  )
}

/** The buckets inside the zoomed part of the axis (percentages of the extent from the first
 * bucket to the last), which is what the chart shows and the CSV exports. */
export function visibleBuckets(buckets: readonly TelemetryBucket[], startPercent: number, endPercent: number): TelemetryBucket[] {
  if (buckets.length < 2 || (startPercent <= 0 && endPercent >= 100)) return [...buckets]
  const first = Date.parse(buckets[0]!.ts)
  const span = Date.parse(buckets.at(-1)!.ts) - first
  const low = first + (span * startPercent) / 100
  const high = first + (span * endPercent) / 100
  return buckets.filter((b) => {
    const at = Date.parse(b.ts)
    return at >= low && at <= high
  })
}
