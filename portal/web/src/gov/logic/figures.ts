// How the government portal words its figures: a risk colour as a class and a label, a rate
// as a percentage, a major hazard grade as the standard's Roman numeral.
import type { RiskColor, SeverityCount } from '../api'

export const RISK_COLORS: readonly RiskColor[] = ['RED', 'ORANGE', 'YELLOW', 'BLUE']

/** The CSS modifier of a tile or a row: `risk--red` … `risk--blue`, `risk--none` without sites. */
export function riskClass(color: RiskColor | null | undefined): string {
  return color ? `risk--${color.toLowerCase()}` : 'risk--none'
}

/** The message key of a risk colour's name (`risk.none` for a division without sites). */
export function riskLabelKey(color: RiskColor | null | undefined): string {
  return color ? `risk.${color}` : 'risk.none'
}

/** 0–1 as a percentage with one decimal (`0.755` → `75.5%`), `—` when there is no rate. */
export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '—'
  return `${(Math.round(rate * 1000) / 10).toFixed(1)}%`
}

const ROMAN = ['I', 'II', 'III', 'IV'] as const

/** GB 18218-2018's grade 1–4 as I–IV; null (not a major hazard source) and anything else as `—`. */
export function gradeText(grade: number | null | undefined): string {
  return grade !== null && grade !== undefined && grade >= 1 && grade <= 4 ? ROMAN[grade - 1]! : '—'
}

/** All active alarms of a division, whatever their severity. */
export function alarmTotal(counts: readonly SeverityCount[]): number {
  return counts.reduce((sum, c) => sum + c.count, 0)
}

/** The count of one severity (0 when the answer leaves it out). */
export function alarmCount(counts: readonly SeverityCount[], severity: string): number {
  return counts.find((c) => c.severity === severity)?.count ?? 0
}
