// What a refused or failed request tells the person: the server's own message for bad input
// (it says what to fix), a plain "not allowed" for FORBIDDEN, the connection for the rest.
import { useI18n } from 'vue-i18n'

import { GraphQLRequestError, ServerUnreachableError } from '@/shared/graphql/client'

export type Translate = (key: string, values?: Record<string, unknown>) => string

export function actionErrorText(error: unknown, t: Translate): string {
  if (error instanceof ServerUnreachableError) return t('common.unreachable')
  if (error instanceof GraphQLRequestError) {
    if (error.code === 'FORBIDDEN') return t('common.forbidden', { message: error.message })
    return t('common.refused', { message: error.message })
  }
  return t('common.failed', { message: error instanceof Error ? error.message : String(error) })
}

export function useActionError(): (error: unknown) => string {
  const { t } = useI18n()
  return (error) => actionErrorText(error, t)
}
