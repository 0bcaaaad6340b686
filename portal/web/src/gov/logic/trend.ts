// The 30-day online-rate chart of a division: days on x, percent on y, the required rate as a
// marked line; a day without sensors is a gap, not a zero.
import type { ChartOption } from '@/shared/charts/echarts'

import type { DailyOnlineRate } from '../api'

/** What the national system requires of a jurisdiction (在线率 ≥ 99.5 %). */
export const REQUIRED_ONLINE_RATE = 0.995

export function trendOption(days: readonly DailyOnlineRate[], series: string, required: string): ChartOption {
  const values = days.map((d) => (d.rate === null ? null : Math.round(d.rate * 1000) / 10))
  const lowest = Math.min(100, ...values.filter((v): v is number => v !== null))
  return {
    grid: { left: 48, right: 16, top: 16, bottom: 32 },
    tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => (typeof v === 'number' ? `${v}%` : '—') },
    xAxis: { type: 'category', data: days.map((d) => d.day.slice(5)) },
    yAxis: { type: 'value', min: Math.max(0, Math.floor(lowest / 10) * 10), max: 100, axisLabel: { formatter: '{value}%' } },
    series: [
      {
        name: series,
        type: 'line',
        data: values,
        connectNulls: false,
        markLine: {
          silent: true,
          symbol: 'none',
          label: { formatter: required },
          data: [{ yAxis: REQUIRED_ONLINE_RATE * 100 }],
        },
      },
    ],
  }
}
