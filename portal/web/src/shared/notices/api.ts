// Rectification notices (整改通知书) as both portals ask for them (CONTRACT.md, "Government
// GraphQL"): the regulator issues, follows and verifies; the enterprise acknowledges receipt and
// answers. One shape for both sides: the server scopes what each reads.

export type NoticeStatus = 'ISSUED' | 'RESPONDED' | 'VERIFIED' | 'RETURNED'
export type NoticeEventKind = 'ISSUED' | 'RECEIVED' | 'RESPONDED' | 'VERIFIED' | 'RETURNED'

export const NOTICE_STATUSES: readonly NoticeStatus[] = ['ISSUED', 'RETURNED', 'RESPONDED', 'VERIFIED']

export interface NoticeActor {
  kind: string
  name: string | null
  email: string | null
}

export interface NoticeSite {
  id: string
  name: string
  divisionCode: string
  tenantId: string
  tenant: { name: string }
}

export interface NoticeRow {
  id: string
  number: string
  status: NoticeStatus
  overdue: boolean
  deadline: string
  issuedAt: string
  receivedAt: string | null
  site: NoticeSite
}

export interface NoticeResponse {
  text: string
  photos: string[]
  respondedAt: string
  respondedBy: NoticeActor
}

export interface NoticeItem {
  id: string
  finding: string
  basis: string | null
  /** The regulator's photos of the finding. */
  photos: string[]
  response: NoticeResponse | null
}

export interface NoticeEvent {
  kind: NoticeEventKind
  at: string
  comment: string | null
  actor: NoticeActor
}

export interface Notice extends NoticeRow {
  returnComment: string | null
  issuedBy: NoticeActor
  receivedBy: NoticeActor | null
  items: NoticeItem[]
  events: NoticeEvent[]
}

const ACTOR = 'kind name email'
/** The fields of a notice in a list. */
export const NOTICE_ROW = 'id number status overdue deadline issuedAt receivedAt site { id name divisionCode tenantId tenant { name } }'
const NOTICE = `${NOTICE_ROW} returnComment issuedBy { ${ACTOR} } receivedBy { ${ACTOR} }
  items { id finding basis photos response { text photos respondedAt respondedBy { ${ACTOR} } } }
  events { kind at comment actor { ${ACTOR} } }`

export const NOTICES_QUERY = `query Notices($status: NoticeStatus, $overdue: Boolean, $siteId: ID) {
  rectificationNotices(status: $status, overdue: $overdue, siteId: $siteId) { ${NOTICE_ROW} }
}`

export const NOTICE_QUERY = `query Notice($id: ID!) { rectificationNotice(id: $id) { ${NOTICE} } }`

export const ISSUE_NOTICE_MUTATION = `mutation IssueNotice($siteId: ID!, $deadline: DateTime!, $items: [NoticeItemInput!]!) {
  issueRectificationNotice(siteId: $siteId, deadline: $deadline, items: $items) { id number }
}`

export const ACKNOWLEDGE_RECEIPT_MUTATION = `mutation AcknowledgeNoticeReceipt($id: ID!) {
  acknowledgeNoticeReceipt(id: $id) { ${NOTICE} }
}`

export const RESPOND_TO_NOTICE_MUTATION = `mutation RespondToNotice($id: ID!, $responses: [NoticeResponseInput!]!) {
  respondToNotice(id: $id, responses: $responses) { ${NOTICE} }
}`

export const ATTACH_FINDING_PHOTOS_MUTATION = `mutation AttachFindingPhotos($id: ID!, $itemId: ID!, $photos: [String!]!) {
  attachFindingPhotos(id: $id, itemId: $itemId, photos: $photos) { ${NOTICE} }
}`

export const VERIFY_NOTICE_MUTATION = `mutation VerifyNotice($id: ID!, $accepted: Boolean!, $comment: String) {
  verifyNotice(id: $id, accepted: $accepted, comment: $comment) { ${NOTICE} }
}`

export interface NoticeItemDraft {
  finding: string
  basis: string
  /** The keys of the regulator's photos of the finding, uploaded for the site. */
  photos?: string[]
}

/** What the server takes for one item. */
export interface NoticeItemInput {
  finding: string
  basis: string | null
  photos?: string[]
}

// The server's limits (backend/oversight/notices/models.py), checked before anything is sent.
export const MAX_FINDING = 2000
export const MAX_BASIS = 1000
export const MAX_RESPONSE = 4000
export const MAX_COMMENT = 2000
