// What a work order offers to whom: the moves the server's state machine allows from its
// status (backend/response TRANSITIONS), verifying only for a role that may verify, nothing
// for a role that may not update work orders. The checklist as typed, one item a line.
import type { WorkOrderChecklistItem, WorkOrderStatus } from '../queries/work-orders'
import { type EnterpriseRole, may } from './roles'

const TRANSITIONS: Record<WorkOrderStatus, readonly WorkOrderStatus[]> = {
  OPEN: ['IN_PROGRESS', 'CANCELLED'],
  IN_PROGRESS: ['DONE', 'CANCELLED'],
  DONE: ['VERIFIED'],
  VERIFIED: [],
  CANCELLED: [],
}

export function nextStatuses(status: WorkOrderStatus, role: EnterpriseRole | null): WorkOrderStatus[] {
  if (!may(role, 'work_order:update')) return []
  return TRANSITIONS[status].filter((next) => next !== 'VERIFIED' || may(role, 'work_order:verify'))
}

/** Cancelling says why; the server refuses a cancellation without a note. */
export function needsNote(status: WorkOrderStatus): boolean {
  return status === 'CANCELLED'
}

/** Ticking, commenting: while the order is still being worked on. */
export function isWorkable(status: WorkOrderStatus, role: EnterpriseRole | null): boolean {
  return may(role, 'work_order:update') && (status === 'OPEN' || status === 'IN_PROGRESS')
}

export function openItemCount(checklist: readonly WorkOrderChecklistItem[]): number {
  return checklist.filter((item) => !item.done).length
}

/** One checklist item per non-empty line. */
export function parseChecklist(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
}

/** A `datetime-local` value (the browser's zone) as an instant, or null when empty or invalid. */
export function localInputToIso(value: string): string | null {
  if (!value) return null
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}

/** The picked assignee (`user:<id>`, `worker:<id>` or nothing) as the mutation's arguments. */
export function assigneeOf(picked: string): { assigneeUserId: string | null; assigneeWorkerId: string | null } {
  const [kind, id] = picked.split(':', 2)
  return {
    assigneeUserId: kind === 'user' && id ? id : null,
    assigneeWorkerId: kind === 'worker' && id ? id : null,
  }
}
