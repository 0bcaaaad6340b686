// A report's status as the catalogue names it; null for one this page does not know yet.
import { REPORT_STATUSES, type ReportStatus } from '../api'

export function isReportStatus(status: string): status is ReportStatus {
  return (REPORT_STATUSES as readonly string[]).includes(status)
}

export function statusKey(status: string): string | null {
  return isReportStatus(status) ? `status.${status}` : null
}

export function statusHintKey(status: string): string | null {
  return isReportStatus(status) ? `statusHint.${status}` : null
}
