// Inspections (检查记录) as both portals ask for them: a regulator records one and issues a
// rectification notice from it; the enterprise reads its own. The server scopes what each reads.
import type { NoticeActor, NoticeStatus } from '@/shared/notices/api'

export interface InspectionFinding {
  finding: string
  basis: string | null
}

export interface InspectionSite {
  id: string
  name: string
  divisionCode: string
  tenant: { name: string }
}

export interface InspectionNotice {
  id: string
  number: string
  status: NoticeStatus
}

export interface InspectionRow {
  id: string
  /** A calendar day in China time, `YYYY-MM-DD`. */
  inspectedOn: string
  divisionCode: string
  createdAt: string
  site: InspectionSite
  findings: InspectionFinding[]
  notice: InspectionNotice | null
}

export interface Inspection extends InspectionRow {
  inspectors: NoticeActor[]
  summary: string | null
  createdBy: NoticeActor
}

const ACTOR = 'kind name email'
/** The fields of an inspection in a list (each costs the server's budget ~100 rows, its
 *  findings counted at their most). */
export const INSPECTION_ROW = `id inspectedOn divisionCode createdAt site { id name divisionCode tenant { name } }
  findings { finding basis } notice { id number status }`

export const INSPECTIONS_QUERY = `query Inspections($siteId: ID, $divisionCode: String, $from: Date, $to: Date, $first: Int, $after: ID) {
  inspections(siteId: $siteId, divisionCode: $divisionCode, inspectedFrom: $from, inspectedTo: $to, first: $first, after: $after) {
    ${INSPECTION_ROW}
  }
}`

export const INSPECTION_QUERY = `query Inspection($id: ID!) {
  inspection(id: $id) { ${INSPECTION_ROW} inspectors { ${ACTOR} } summary createdBy { ${ACTOR} } }
}`

export const RECORD_INSPECTION_MUTATION = `mutation RecordInspection($siteId: ID!, $inspectedOn: Date!, $findings: [NoticeItemInput!]!,
  $summary: String, $inspectorIds: [ID!]) {
  createInspection(siteId: $siteId, inspectedOn: $inspectedOn, findings: $findings, summary: $summary, inspectorIds: $inspectorIds) { id }
}`

/** A division's members (a director reads them): whom the inspection form offers as inspectors. */
export const GOV_MEMBERS_QUERY = `query GovMembers($domain: String!) {
  members(domain: $domain) { userId email role disabled suspended }
}`

export const ISSUE_FROM_INSPECTION_MUTATION = `mutation IssueNoticeFromInspection($id: ID!, $deadline: DateTime!) {
  issueNoticeFromInspection(id: $id, deadline: $deadline) { id number }
}`

export const INSPECTION_PAGE = 20
/** The CSV export walks the whole list in pages of this many: with their findings, as many
 *  as one request's cost budget holds (the server would give 500 without them). */
export const INSPECTION_MAX = 200
// The server's limits (backend/oversight/inspections), checked before anything is sent.
export const MAX_SUMMARY = 4000
export const MAX_FINDINGS = 100
export const MAX_INSPECTORS = 20
