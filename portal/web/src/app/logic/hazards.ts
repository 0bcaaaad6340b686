// The major hazard register page: how a grade reads, the substances a search finds, the rows of
// the unit dialog checked before anything is sent, and an estimate of R and the grade while the
// rows are typed (GB 18218-2018; the server's figures are the ones that count).
import type { CatalogCategory, CatalogSubstance, HazardCatalog, HazardSubstanceInput, HazardSubstanceLine, HazardUnit } from '../queries/hazards'

export const MAX_UNIT_NAME = 200
export const MAX_SUBSTANCES = 100

/** The message key of a grade: 1 to 4 a major hazard source of that grade, null none. */
export function gradeKey(grade: number | null | undefined): string {
  return grade === 1 || grade === 2 || grade === 3 || grade === 4 ? `hazards.grade${grade}` : 'hazards.notMajor'
}

/** The badge colour of a grade: I and II stand out, III and IV warn, none is calm. */
export function gradeTone(grade: number | null | undefined): 'bad' | 'warn' | 'good' {
  if (grade === 1 || grade === 2) return 'bad'
  if (grade === 3 || grade === 4) return 'warn'
  return 'good'
}

/** A figure as the page shows it: at most three decimals, no trailing zeros. */
export function figure(value: number, locale: string): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 3 }).format(value)
}

const normal = (text: string): string => text.trim().toLowerCase().replace(/\s+/g, '')

/** The named substances a search finds: by Chinese name or alias, English name, CAS number or
 * entry number; every one for an empty search. */
export function searchSubstances(catalog: readonly CatalogSubstance[], query: string): CatalogSubstance[] {
  const q = normal(query)
  if (!q) return [...catalog]
  return catalog.filter(
    (s) =>
      String(s.entry) === q ||
      normal(s.nameZh).includes(q) ||
      s.aliasesZh.some((alias) => normal(alias).includes(q)) ||
      normal(s.nameEn).includes(q) ||
      s.casNumbers.some((cas) => cas.includes(q)),
  )
}

export type SubstanceSource = 'named' | 'category'

export interface SubstanceDraft {
  source: SubstanceSource
  search: string
  /** The Table 1 entry picked, as the select's value ('' for none). */
  entry: string
  /** The Table 2 code picked ('' for none). */
  category: string
  /** Tonnes, as typed. */
  quantity: string
  /** Kept from the unit being edited while its substance is not changed. */
  name: string | null
  betaCategory: string | null
}

export function emptySubstance(): SubstanceDraft {
  return { source: 'named', search: '', entry: '', category: '', quantity: '', name: null, betaCategory: null }
}

/** The rows of a registered unit, to edit. */
export function draftsOf(lines: readonly HazardSubstanceLine[]): SubstanceDraft[] {
  return lines.map((line) => ({
    source: line.category ? 'category' : 'named',
    search: '',
    entry: line.category || line.entry === null ? '' : String(line.entry),
    category: line.category ?? '',
    quantity: String(line.quantityTonnes),
    name: line.name !== line.standardName ? line.name : null,
    betaCategory: line.betaCategory,
  }))
}

export interface UnitDraft {
  name: string
  people: string
  substances: SubstanceDraft[]
}

export interface Problem {
  key: string
  values?: Record<string, unknown>
}

function quantityOf(text: string): number | null {
  if (!text.trim()) return null
  const value = Number(text)
  return Number.isFinite(value) && value > 0 ? value : null
}

function peopleOf(text: string): number | null {
  if (!/^\s*\d+\s*$/.test(text)) return null
  const value = Number(text)
  return Number.isSafeInteger(value) ? value : null
}

function pickedKey(draft: SubstanceDraft): string {
  return draft.source === 'named' ? `entry:${draft.entry}` : `category:${draft.category}`
}

/** What is wrong with the dialog, row by row (rows numbered from 1); empty when it may be sent. */
export function unitProblems(draft: UnitDraft, catalog: HazardCatalog | null): Problem[] {
  const problems: Problem[] = []
  const name = draft.name.trim()
  if (!name) problems.push({ key: 'hazards.needName' })
  else if (name.length > MAX_UNIT_NAME) problems.push({ key: 'hazards.nameTooLong', values: { max: MAX_UNIT_NAME } })
  if (peopleOf(draft.people) === null) problems.push({ key: 'hazards.needPeople' })
  if (!draft.substances.length) problems.push({ key: 'hazards.needSubstance' })
  if (draft.substances.length > MAX_SUBSTANCES) problems.push({ key: 'hazards.tooManySubstances', values: { max: MAX_SUBSTANCES } })
  const entries = new Set((catalog?.namedSubstances ?? []).map((s) => String(s.entry)))
  const codes = new Set((catalog?.categories ?? []).map((c) => c.code))
  const seen = new Set<string>()
  draft.substances.forEach((row, index) => {
    const n = index + 1
    const picked = row.source === 'named' ? row.entry : row.category
    if (!picked) problems.push({ key: row.source === 'named' ? 'hazards.rowNeedSubstance' : 'hazards.rowNeedCategory', values: { n } })
    else if (catalog && !(row.source === 'named' ? entries.has(picked) : codes.has(picked))) {
      problems.push({ key: 'hazards.rowUnknown', values: { n } })
    } else if (seen.has(pickedKey(row))) problems.push({ key: 'hazards.rowDuplicate', values: { n } })
    if (picked) seen.add(pickedKey(row))
    if (quantityOf(row.quantity) === null) problems.push({ key: 'hazards.rowNeedQuantity', values: { n } })
  })
  return problems
}

/** The CAS number that names this Table 1 entry alone, so the register keeps it; null where
 * the entry has none, several, or shares its number with another entry (then it is named by
 * its entry number). */
export function soleCasNumber(catalog: HazardCatalog | null, entry: number): string | null {
  const named = catalog?.namedSubstances ?? []
  const cas = named.find((s) => s.entry === entry)?.casNumbers
  if (!cas || cas.length !== 1) return null
  return named.filter((s) => s.casNumbers.includes(cas[0]!)).length === 1 ? cas[0]! : null
}

/** The substances as the server takes them (the rows already checked): a named chemical by its
 * CAS number where that names it alone, else by its entry; a category by its code. */
export function substanceInputs(drafts: readonly SubstanceDraft[], catalog: HazardCatalog | null): HazardSubstanceInput[] {
  return drafts.map((d) => {
    const input: HazardSubstanceInput = { quantityTonnes: Number(d.quantity) }
    if (d.source === 'named') {
      const cas = soleCasNumber(catalog, Number(d.entry))
      if (cas) input.casNumber = cas
      else input.entry = Number(d.entry)
    } else input.category = d.category
    if (d.name) input.name = d.name
    if (d.betaCategory && d.source === 'named') input.betaCategory = d.betaCategory
    return input
  })
}

export function peopleCount(text: string): number {
  return peopleOf(text) ?? 0
}

// Table 5 (people outside the boundary within 500 m → α) and Table 6 (R → grade).
const ALPHA_BANDS: readonly (readonly [number, number])[] = [
  [100, 2],
  [50, 1.5],
  [30, 1.2],
  [1, 1],
  [0, 0.5],
]

export function alphaFor(people: number): number {
  return ALPHA_BANDS.find(([bound]) => people >= bound)?.[1] ?? 0.5
}

export function gradeFor(r: number): 1 | 2 | 3 | 4 {
  if (r >= 100) return 1
  if (r >= 50) return 2
  if (r >= 10) return 3
  return 4
}

export interface Estimate {
  sumQOverQ: number
  alpha: number
  rValue: number
  grade: number | null
}

/** R and the grade the rows would give, or null while a row is incomplete. An estimate in
 * floating point: the server's exact arithmetic decides a value on a bound. A β category kept
 * from an edited unit is not known here, so no estimate is given for such a row. */
export function estimate(draft: UnitDraft, catalog: HazardCatalog | null): Estimate | null {
  if (!catalog || !draft.substances.length) return null
  const people = peopleOf(draft.people)
  if (people === null) return null
  let sum = 0
  let weighted = 0
  for (const row of draft.substances) {
    const quantity = quantityOf(row.quantity)
    const found: CatalogSubstance | CatalogCategory | undefined =
      row.source === 'named'
        ? catalog.namedSubstances.find((s) => String(s.entry) === row.entry)
        : catalog.categories.find((c) => c.code === row.category)
    if (quantity === null || !found || (row.source === 'named' && row.betaCategory)) return null
    sum += quantity / found.criticalQuantity
    weighted += (found.beta * quantity) / found.criticalQuantity
  }
  const alpha = alphaFor(people)
  const rValue = alpha * weighted
  return { sumQOverQ: sum, alpha, rValue, grade: sum >= 1 ? gradeFor(rValue) : null }
}

/** The units of a site, most severe first, then by name. */
export function sortedUnits(units: readonly HazardUnit[]): HazardUnit[] {
  const rank = (u: HazardUnit): number => u.grade ?? 5
  return [...units].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name, 'zh-CN'))
}
