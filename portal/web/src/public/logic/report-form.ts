// The report form's rules, apart from its page: what a draft must hold before it is sent, the
// JSON it becomes (CONTRACT.md, POST /api/v1/reports), and which part of the form a field the
// server names belongs to.
import type { Proof, ReportPayload } from '../api'

export const DESCRIPTION_MAX = 2000
export const ADDRESS_MAX = 200
export const SUBJECT_MAX = 200
export const NAME_MAX = 50
/** A mainland mobile number: 11 digits starting 13–19. */
export const MOBILE = /^1[3-9]\d{9}$/
/** How far ahead of this browser's clock a time seen may be (clocks differ a little). */
const CLOCK_SLACK_MS = 60_000

export interface Place {
  lat: number
  lon: number
  /** Metres, as the browser estimated it. */
  accuracy: number | null
}

export interface ReportDraft {
  category: string
  description: string
  /** A `datetime-local` value (the reader's own clock), or ''. */
  observedAt: string
  subject: string
  /** The county (or the deepest division there is), '' until picked. */
  divisionCode: string
  address: string
  location: Place | null
  anonymous: boolean
  name: string
  mobile: string
}

export function emptyDraft(): ReportDraft {
  return {
    category: '',
    description: '',
    observedAt: '',
    subject: '',
    divisionCode: '',
    address: '',
    location: null,
    anonymous: true,
    name: '',
    mobile: '',
  }
}

/** The parts of the form an error is shown beside. */
export const FORM_FIELDS = [
  'category',
  'description',
  'observedAt',
  'photos',
  'subject',
  'divisionCode',
  'where',
  'name',
  'mobile',
] as const
export type FormField = (typeof FORM_FIELDS)[number]

/** What is wrong with a draft: a message key per field, none when it may be sent. */
export type DraftProblems = Partial<Record<FormField, string>>

/** A mobile as people write it (spaces, dashes, +86) as the 11 digits, or '' when blank. */
export function normaliseMobile(typed: string): string {
  const digits = typed.replace(/[\s\-()]/g, '')
  return digits.replace(/^(?:\+86|0086)/, '')
}

/** `2026-12-03T10:30` read on the reader's clock, as an RFC 3339 instant; null when blank or unreadable. */
export function observedInstant(local: string): string | null {
  if (!local.trim()) return null
  const date = new Date(local)
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}

/** `now` as a `datetime-local` value (the form's upper bound for the time seen). */
export function localInputValue(now: Date): string {
  const shifted = new Date(now.getTime() - now.getTimezoneOffset() * 60_000)
  return shifted.toISOString().slice(0, 16)
}

export function draftProblems(draft: ReportDraft, photoCount: number, now: Date = new Date()): DraftProblems {
  const problems: DraftProblems = {}
  if (!draft.category) problems.category = 'errors.categoryMissing'
  const description = draft.description.trim()
  if (!description) problems.description = 'errors.descriptionMissing'
  else if (description.length > DESCRIPTION_MAX) problems.description = 'errors.descriptionLong'
  if (draft.observedAt.trim()) {
    const at = observedInstant(draft.observedAt)
    if (at === null) problems.observedAt = 'errors.observedAtBad'
    else if (Date.parse(at) > now.getTime() + CLOCK_SLACK_MS) problems.observedAt = 'errors.observedAtFuture'
  }
  if (photoCount > 5) problems.photos = 'errors.photosTooMany'
  if (draft.subject.trim().length > SUBJECT_MAX) problems.subject = 'errors.subjectLong'
  if (!draft.divisionCode) problems.divisionCode = 'errors.divisionMissing'
  if (!draft.address.trim() && !draft.location) problems.where = 'errors.whereMissing'
  else if (draft.address.trim().length > ADDRESS_MAX) problems.where = 'errors.addressLong'
  if (!draft.anonymous) {
    const name = draft.name.trim()
    if (!name) problems.name = 'errors.nameMissing'
    else if (name.length > NAME_MAX) problems.name = 'errors.nameLong'
    const mobile = normaliseMobile(draft.mobile)
    if (!mobile) problems.mobile = 'errors.mobileMissing'
    else if (!MOBILE.test(mobile)) problems.mobile = 'errors.mobileBad'
  }
  return problems
}

const blankToNull = (text: string): string | null => text.trim() || null

/** The JSON body of POST /api/v1/reports for a draft that has no problems. */
export function reportPayload(draft: ReportDraft, photos: string[], pow: Proof): ReportPayload {
  return {
    category: draft.category,
    description: draft.description.trim(),
    divisionCode: draft.divisionCode,
    location: draft.location ? { lat: draft.location.lat, lon: draft.location.lon } : null,
    address: blankToNull(draft.address),
    observedAt: observedInstant(draft.observedAt),
    photos,
    contact: draft.anonymous ? null : { name: draft.name.trim(), mobile: normaliseMobile(draft.mobile) },
    subject: blankToNull(draft.subject),
    pow,
  }
}

/**
 * The part of the form a field the server names belongs to: `contact.mobile` → mobile,
 * `photos[2]` or `photos.2` → photos, `location`/`address` → where. Null for a field the form
 * does not show (`pow`, or one it does not know), which is shown above the form instead.
 */
export function formFieldOf(serverField: string): FormField | null {
  const path = serverField.replace(/\[\d+\]/g, '').split('.')
  const [head, next] = path
  switch (head) {
    case 'category':
    case 'description':
    case 'observedAt':
    case 'photos':
    case 'subject':
    case 'divisionCode':
      return head
    case 'location':
    case 'address':
      return 'where'
    case 'contact':
      if (next === 'mobile') return 'mobile'
      return 'name'
    default:
      return null
  }
}
