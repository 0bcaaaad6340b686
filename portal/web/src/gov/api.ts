// The GraphQL the government portal asks, and the shapes of the answers (CONTRACT.md,
// "Government GraphQL"). One request per refresh of a page.
import type { Severity } from '@/app/logic/sensor-state'
import {
  CHANGE_FIELDS,
  type HazardResponsible,
  type HazardUnitChange,
  RESPONSIBLE_FIELDS,
} from '@/shared/hazards/responsibles'
import { INSPECTION_ROW, type InspectionRow } from '@/shared/inspections/api'
import { NOTICE_ROW, type NoticeRow } from '@/shared/notices/api'
import type { SupervisionStatus } from '@/shared/supervision/api'

export type RiskColor = 'RED' | 'ORANGE' | 'YELLOW' | 'BLUE'

export interface SeverityCount {
  severity: Severity
  count: number
}

export interface GradeCount {
  grade: number
  count: number
}

export interface DivisionFigures {
  divisionCode: string
  name: string
  enterprises: number
  sites: number
  majorHazardSources: number
  majorHazardSourcesByGrade: GradeCount[]
  onlineRate: number | null
  activeAlarms: SeverityCount[]
  overdueUnacknowledged: number
  overdueNotices: number
  riskColor: RiskColor | null
}

export interface Jurisdiction extends DivisionFigures {
  children: DivisionFigures[]
}

export interface SiteRisk {
  site: { id: string; name: string; divisionCode: string; tenant: { name: string } }
  riskColor: RiskColor
  onlineRate: number | null
  activeAlarmCount: number
  majorHazardGrade: number | null
}

const FIGURES = `divisionCode name enterprises sites majorHazardSources majorHazardSourcesByGrade { grade count }
  onlineRate activeAlarms { severity count } overdueUnacknowledged overdueNotices riskColor`

export const JURISDICTION_QUERY = `query GovJurisdiction($code: String) {
  jurisdiction(divisionCode: $code) { ${FIGURES} children { ${FIGURES} } }
}`

/** A division's figures, its children's, and one page of its sites' risks, in one request. */
export const GOV_OVERVIEW_QUERY = `query GovOverview($code: String, $first: Int!, $after: ID) {
  jurisdiction(divisionCode: $code) { ${FIGURES} children { ${FIGURES} } }
  siteRisks(divisionCode: $code, first: $first, after: $after) {
    site { id name divisionCode tenant { name } }
    riskColor onlineRate activeAlarmCount majorHazardGrade
  }
}`

export interface GovOverviewData {
  jurisdiction: Jurisdiction
  siteRisks: SiteRisk[]
}

export const SITE_RISK_PAGE = 20

/** The names of several divisions at once (the breadcrumb's ancestors), each an alias. */
export function divisionNamesQuery(count: number): string {
  const args = Array.from({ length: count }, (_, i) => `$c${i}: String!`)
  const fields = args.map((_, i) => `d${i}: jurisdiction(divisionCode: $c${i}) { divisionCode name }`)
  return `query GovDivisionNames(${args.join(', ')}) { ${fields.join(' ')} }`
}

export interface GovSensor {
  id: string
  code: string
  kind: string
  unit: string
  zone: string | null
  latest: { ts: string; value: number } | null
}

export interface GovAlarm {
  id: string
  severity: Severity
  status: string
  raisedAt: string
  sensor: { code: string } | null
  supervisions: { status: SupervisionStatus; overdue: boolean }[]
}

export interface HazardUnit {
  id: string
  name: string
  rValue: number
  grade: number | null
  isMajorHazard: boolean
  substances: { name: string; casNumber: string | null; category: string | null; quantityTonnes: number }[]
  responsibles: HazardResponsible[]
  lastTechnicalCheckAt: string | null
  technicalCheckOverdue: boolean
}

export interface GovSiteData {
  site: {
    id: string
    name: string
    divisionCode: string
    majorHazardGrade: number | null
    tenant: { name: string }
    sensors: GovSensor[]
  }
  alarms: GovAlarm[]
  hazardUnits: HazardUnit[]
  hazardUnitChanges: HazardUnitChange[]
  rectificationNotices: NoticeRow[]
  inspections: InspectionRow[]
}

export const SITE_CHANGE_LIMIT = 20

export const SITE_ALARM_LIMIT = 100
/** The site page shows its latest inspections; the inspection list has the rest. */
export const SITE_INSPECTION_LIMIT = 20

export const GOV_SITE_QUERY = `query GovSite($id: ID!, $alarmLimit: Int!, $changeLimit: Int!, $inspectionLimit: Int!) {
  site(id: $id) {
    id name divisionCode majorHazardGrade tenant { name }
    sensors { id code kind unit zone latest { ts value } }
  }
  alarms(siteId: $id, status: ACTIVE, first: $alarmLimit) {
    id severity status raisedAt sensor { code } supervisions { status overdue }
  }
  hazardUnits(siteId: $id) {
    id name rValue grade isMajorHazard substances { name casNumber category quantityTonnes }
    ${RESPONSIBLE_FIELDS}
  }
  hazardUnitChanges(siteId: $id, first: $changeLimit) { ${CHANGE_FIELDS} }
  rectificationNotices(siteId: $id) { ${NOTICE_ROW} }
  inspections(siteId: $id, first: $inspectionLimit) { ${INSPECTION_ROW} }
}`

export interface DailyOnlineRate {
  /** A calendar day in China time, `YYYY-MM-DD`. */
  day: string
  rate: number | null
}

export const ONLINE_RATE_HISTORY_QUERY = `query GovOnlineRateHistory($code: String, $days: Int) {
  onlineRateHistory(divisionCode: $code, days: $days) { day rate }
}`

export type RankingOrder = 'ONLINE_RATE' | 'MTTA' | 'ALARMS' | 'FALSE_POSITIVE_RATE' | 'OVERDUE_NOTICES'

export interface EnterpriseRanking {
  tenant: { id: string; name: string }
  sites: number
  sensors: number
  onlineRate: number | null
  alarms: number
  mttaSeconds: number | null
  mttrSeconds: number | null
  falsePositiveRate: number | null
  overdueNotices: number
}

export const RANKINGS_QUERY = `query GovRankings($code: String, $days: Int, $orderBy: EnterpriseRankingOrder, $first: Int) {
  enterpriseRankings(divisionCode: $code, days: $days, orderBy: $orderBy, first: $first) {
    tenant { id name } sites sensors onlineRate alarms mttaSeconds mttrSeconds falsePositiveRate overdueNotices
  }
}`

export const RANKINGS_MAX = 500

export type DataQualityProblem = 'OFFLINE_DEVICE' | 'STALE' | 'OUT_OF_RANGE' | 'FLATLINE'

export interface DataQualityPoint {
  sensor: { id: string; code: string; kind: string; unit: string }
  site: { id: string; name: string; tenant: { name: string } }
  problem: DataQualityProblem
  since: string | null
  lastSeen: string | null
  lastValue: number | null
}

export interface DataQuality {
  divisionCode: string
  sensors: number
  stale: number
  flatline: number
  outOfRange: number
  offlineDevices: number
  points: DataQualityPoint[]
}

export const DATA_QUALITY_QUERY = `query GovDataQuality($code: String, $first: Int, $after: ID) {
  dataQuality(divisionCode: $code, first: $first, after: $after) {
    divisionCode sensors stale flatline outOfRange offlineDevices
    points { sensor { id code kind unit } site { id name tenant { name } } problem since lastSeen lastValue }
  }
}`

export const DATA_QUALITY_PAGE = 50
/** The largest page the server gives: the CSV export walks the whole list in these. */
export const DATA_QUALITY_MAX = 500

export interface GovSiteOption {
  id: string
  name: string
  tenant: { name: string }
}

/** The sites of a division to choose among (the inspection form), by risk then name. */
export const GOV_SITE_OPTIONS_QUERY = `query GovSiteOptions($code: String, $first: Int!) {
  siteRisks(divisionCode: $code, first: $first) { site { id name tenant { name } } }
}`

export const SITE_OPTIONS_MAX = 500

/** A division's name and its children's, for a division filter. */
export const DIVISION_OPTIONS_QUERY = `query GovDivisionOptions($code: String) {
  jurisdiction(divisionCode: $code) { divisionCode name children { divisionCode name } }
}`

export interface DivisionOption {
  divisionCode: string
  name: string
  children: { divisionCode: string; name: string }[]
}
