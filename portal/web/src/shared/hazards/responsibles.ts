// The accountable persons of a major hazard source (包保责任人) and their duty records, as both
// portals show them: the three roles in order with whoever holds each, the workers a role can be
// given to, what is wrong with a duty check before it is sent, and how a register change reads.

export const RESPONSIBLE_ROLES = ['MAIN', 'TECHNICAL', 'OPERATIONAL'] as const
export type ResponsibleRole = (typeof RESPONSIBLE_ROLES)[number]

export const MAX_DUTY_FINDINGS = 2000

export interface ResponsibleWorker {
  id: string
  name: string
  mobile: string | null
}

export interface HazardResponsible {
  role: ResponsibleRole
  assignedAt: string
  worker: ResponsibleWorker | null
}

export interface HazardDutyRecord {
  id: string
  role: ResponsibleRole
  checkedOn: string
  findings: string
  worker: { id: string; name: string } | null
}

export type HazardUnitChangeKind = 'REGISTERED' | 'UPDATED' | 'REMOVED' | 'RESPONSIBLE_ASSIGNED'

export interface HazardUnitChange {
  id: string
  at: string
  kind: HazardUnitChangeKind
  unitId: string
  unitName: string | null
  gradeBefore: number | null
  gradeAfter: number | null
  responsibleRole: ResponsibleRole | null
  responsible: ResponsibleWorker | null
}

export const RESPONSIBLE_FIELDS = `responsibles { role assignedAt worker { id name mobile } }
  lastTechnicalCheckAt technicalCheckOverdue`

export const CHANGE_FIELDS = `id at kind unitId unitName gradeBefore gradeAfter responsibleRole
  responsible { id name mobile }`

export interface RoleSlot {
  role: ResponsibleRole
  worker: ResponsibleWorker | null
}

/** The three roles in their order, each with whoever holds it (null: vacant). */
export function roleSlots(responsibles: readonly HazardResponsible[]): RoleSlot[] {
  return RESPONSIBLE_ROLES.map((role) => ({
    role,
    worker: responsibles.find((r) => r.role === role)?.worker ?? null,
  }))
}

/** The message key of a role: 主要负责人, 技术负责人, 操作负责人. */
export function roleKey(role: ResponsibleRole): string {
  return `hazardPeople.role.${role}`
}

export interface CandidateWorker {
  id: string
  name: string
  employeeNumber: string
  siteId: string | null
}

/** The workers a role of the site's unit can be given to: the site's and those of no site, by
 * name. */
export function candidatesFor<W extends CandidateWorker>(workers: readonly W[], siteId: string): W[] {
  return workers
    .filter((w) => w.siteId === null || w.siteId === siteId)
    .sort((a, b) => a.name.localeCompare(b.name, 'zh-CN') || a.employeeNumber.localeCompare(b.employeeNumber))
}

export interface DutyCheckDraft {
  role: ResponsibleRole
  checkedOn: string
  findings: string
}

/** What is wrong with a duty check (message keys); empty when it may be sent. ``today`` is the
 * day in China time (YYYY-MM-DD). */
export function dutyCheckProblems(draft: DutyCheckDraft, slots: readonly RoleSlot[], today: string): string[] {
  const problems: string[] = []
  if (!slots.find((s) => s.role === draft.role)?.worker) problems.push('hazardPeople.needPerson')
  if (!/^\d{4}-\d{2}-\d{2}$/.test(draft.checkedOn)) problems.push('hazardPeople.needDay')
  else if (draft.checkedOn > today) problems.push('hazardPeople.futureDay')
  const findings = draft.findings.trim()
  if (!findings) problems.push('hazardPeople.needFindings')
  else if (findings.length > MAX_DUTY_FINDINGS) problems.push('hazardPeople.findingsTooLong')
  return problems
}

export interface ChangeLine {
  key: string
  values: Record<string, string>
}

/** How a register change reads: its message key and the values for it. ``grade`` names a
 * grade (null: not a major source); ``role`` a role. */
export function changeLine(
  change: HazardUnitChange,
  grade: (g: number | null) => string,
  role: (r: ResponsibleRole) => string,
): ChangeLine {
  const unit = change.unitName ?? ''
  switch (change.kind) {
    case 'REGISTERED':
      return { key: 'hazardPeople.change.REGISTERED', values: { unit, grade: grade(change.gradeAfter) } }
    case 'UPDATED':
      return change.gradeBefore === change.gradeAfter
        ? { key: 'hazardPeople.change.UPDATED', values: { unit, grade: grade(change.gradeAfter) } }
        : {
            key: 'hazardPeople.change.REGRADED',
            values: { unit, before: grade(change.gradeBefore), after: grade(change.gradeAfter) },
          }
    case 'REMOVED':
      return { key: 'hazardPeople.change.REMOVED', values: { unit } }
    case 'RESPONSIBLE_ASSIGNED':
      return {
        key: 'hazardPeople.change.RESPONSIBLE_ASSIGNED',
        values: {
          unit,
          role: change.responsibleRole ? role(change.responsibleRole) : '',
          name: change.responsible?.name ?? '—',
        },
      }
  }
}
