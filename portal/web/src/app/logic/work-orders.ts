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

/** An instant as a `datetime-local` value in the browser's zone (to the minute), or ''. */
export function isoToLocalInput(iso: string | null): string {
  if (!iso) return ''
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return ''
  const pad = (n: number): string => String(n).padStart(2, '0')
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  )
}

/** The assignee of an order as the picker names it. */
export function pickedAssignee(order: { assigneeUserId: string | null; assigneeWorkerId: string | null }): string {
  if (order.assigneeUserId) return `user:${order.assigneeUserId}`
  if (order.assigneeWorkerId) return `worker:${order.assigneeWorkerId}`
  return ''
}

export interface WorkOrderEdit {
  title: string
  description: string
  assignee: string
  /** A `datetime-local` value; '' removes the due time. */
  due: string
}

export interface EditableOrder {
  title: string
  description: string | null
  assigneeUserId: string | null
  assigneeWorkerId: string | null
  dueAt: string | null
}

/** What the form as it was opened shows for an order. */
export function editFormOf(order: EditableOrder): WorkOrderEdit {
  return {
    title: order.title,
    description: order.description ?? '',
    assignee: pickedAssignee(order),
    due: isoToLocalInput(order.dueAt),
  }
}

export type EditProblem = 'needTitle' | 'badDue'

/** The arguments of updateWorkOrder for what was changed, only those (a due time left as it
 * was is not sent again: the server refuses a due time in the past, and an overdue order keeps
 * its own); or why the form cannot be sent. */
export function workOrderChanges(
  order: EditableOrder,
  form: WorkOrderEdit,
): { problem: EditProblem } | { changes: Record<string, string | null> } {
  const title = form.title.trim()
  if (!title) return { problem: 'needTitle' }
  const changes: Record<string, string | null> = {}
  if (title !== order.title) changes.title = title
  const description = form.description.trim() || null
  if (description !== (order.description || null)) changes.description = description
  if (form.assignee !== pickedAssignee(order)) Object.assign(changes, assigneeOf(form.assignee))
  if (form.due !== isoToLocalInput(order.dueAt)) {
    const due = localInputToIso(form.due)
    if (form.due && !due) return { problem: 'badDue' }
    changes.dueAt = due
  }
  return { changes }
}
