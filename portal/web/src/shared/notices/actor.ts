// Who did a step of a notice, as the reader may see it (names are masked per audience by the
// server): the name, else the e-mail, else the system.
import type { NoticeActor } from './api'

type Translate = (key: string) => string

export function actorText(actor: NoticeActor, t: Translate): string {
  if (actor.kind === 'SYSTEM') return t('notices.system')
  return actor.name || actor.email || t('notices.someone')
}
