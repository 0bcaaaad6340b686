// A sensor kind in the reader's language (the server's catalogue, backend/telemetry/kinds.json,
// names each in both); a kind the catalogue does not know shows as the server spells it.
import { useI18n } from 'vue-i18n'

export function useKindLabel(): (kind: string) => string {
  const { t, te } = useI18n()
  return (kind: string) => (te(`kind.${kind}`) ? t(`kind.${kind}`) : kind)
}
