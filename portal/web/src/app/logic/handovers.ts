// Who may accept a handover: someone of the incoming shift, whose role may update handovers,
// while nobody has accepted it; never the person who handed it over.
import type { Handover } from '../queries/handovers'
import { type EnterpriseRole, may } from './roles'

export function mayAccept(handover: Pick<Handover, 'accepted' | 'handedOverBy'>, meId: string | null, role: EnterpriseRole | null): boolean {
  return may(role, 'handover:update') && !handover.accepted && meId !== null && handover.handedOverBy !== meId
}

/** A signer as the page can name them: the email when the member list is readable, else a
 * short form of the id the server gives. */
export function signerName(userId: string, emails: ReadonlyMap<string, string>): string {
  return emails.get(userId) ?? `#${userId.slice(0, 8)}`
}
