// The GraphQL of the major hazard register (重大危险源): a site's hazard units as the server
// graded them after GB 18218-2018, the standard's tables to pick substances from, and the
// register's changes; each major unit's accountable persons (包保责任人) and duty checks.

import {
  type HazardDutyRecord,
  type HazardResponsible,
  RESPONSIBLE_FIELDS,
  type ResponsibleRole,
} from '@/shared/hazards/responsibles'

export interface CatalogSubstance {
  entry: number
  casNumbers: string[]
  nameZh: string
  nameEn: string
  aliasesZh: string[]
  criticalQuantity: number
  beta: number
}

export interface CatalogCategory {
  code: string
  hazardZh: string
  hazardEn: string
  descriptionZh: string
  descriptionEn: string
  criticalQuantity: number
  beta: number
}

export interface HazardCatalog {
  namedSubstances: CatalogSubstance[]
  categories: CatalogCategory[]
}

export interface HazardSubstanceLine {
  name: string
  standardName: string
  standardNameEn: string
  casNumber: string | null
  entry: number | null
  category: string | null
  betaCategory: string | null
  quantityTonnes: number
  criticalQuantity: number
  beta: number
  ratio: number
}

export interface HazardUnit {
  id: string
  name: string
  peopleWithin500m: number
  alpha: number
  sumQOverQ: number
  rValue: number
  grade: number | null
  isMajorHazard: boolean
  substances: HazardSubstanceLine[]
  responsibles: HazardResponsible[]
  dutyRecords: HazardDutyRecord[]
  lastTechnicalCheckAt: string | null
  technicalCheckOverdue: boolean
}

export interface HazardsData {
  site: { id: string; name: string; majorHazardGrade: number | null; hazardUnits: HazardUnit[] }
}

/** What registerHazardUnit and updateHazardUnit take for each substance. */
export interface HazardSubstanceInput {
  quantityTonnes: number
  casNumber?: string
  entry?: number
  category?: string
  name?: string
  betaCategory?: string
}

const UNIT_FIELDS = `id name peopleWithin500m alpha sumQOverQ rValue grade isMajorHazard
  substances { name standardName standardNameEn casNumber entry category betaCategory quantityTonnes
    criticalQuantity beta ratio }
  ${RESPONSIBLE_FIELDS}
  dutyRecords(first: 5) { id role checkedOn findings worker { id name } }`

export const HAZARDS_QUERY = `query ConsoleHazards($siteId: ID!) {
  site(id: $siteId) { id name majorHazardGrade hazardUnits { ${UNIT_FIELDS} } }
}`

export const HAZARD_CATALOG_QUERY = `query ConsoleHazardCatalog {
  hazardCatalog {
    namedSubstances { entry casNumbers nameZh nameEn aliasesZh criticalQuantity beta }
    categories { code hazardZh hazardEn descriptionZh descriptionEn criticalQuantity beta }
  }
}`

export const REGISTER_HAZARD_UNIT_MUTATION = `mutation RegisterHazardUnit($siteId: ID!, $name: String!,
  $peopleWithin500m: Int!, $substances: [HazardSubstanceInput!]!) {
  registerHazardUnit(siteId: $siteId, name: $name, peopleWithin500m: $peopleWithin500m, substances: $substances) {
    ${UNIT_FIELDS}
  }
}`

export const UPDATE_HAZARD_UNIT_MUTATION = `mutation UpdateHazardUnit($id: ID!, $name: String!,
  $peopleWithin500m: Int!, $substances: [HazardSubstanceInput!]!) {
  updateHazardUnit(id: $id, name: $name, peopleWithin500m: $peopleWithin500m, substances: $substances) {
    ${UNIT_FIELDS}
  }
}`

export const REMOVE_HAZARD_UNIT_MUTATION = `mutation RemoveHazardUnit($id: ID!) {
  removeHazardUnit(id: $id) { id majorHazardGrade }
}`

export const ASSIGN_HAZARD_RESPONSIBLE_MUTATION = `mutation AssignHazardResponsible($unitId: ID!,
  $role: HazardResponsibleRole!, $workerId: ID!) {
  assignHazardResponsible(unitId: $unitId, role: $role, workerId: $workerId) { id }
}`

export const RECORD_HAZARD_DUTY_CHECK_MUTATION = `mutation RecordHazardDutyCheck($unitId: ID!,
  $role: HazardResponsibleRole!, $checkedOn: Date!, $findings: String!) {
  recordHazardDutyCheck(unitId: $unitId, role: $role, checkedOn: $checkedOn, findings: $findings) { id }
}`

export type { ResponsibleRole }
