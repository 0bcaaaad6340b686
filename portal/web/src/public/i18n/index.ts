// The public portal's catalogue and its i18n: the portals' language machinery (`?lang=en`, the
// remembered choice, Chinese by default) over messages of its own.
import { createI18n } from 'vue-i18n'

import { type Locale, localeOptions } from '@/shared/i18n/locale'

import en from './en'
import zhCN from './zh-CN'

type Shape<T> = { [K in keyof T]: T[K] extends string ? string : Shape<T[K]> }
export type PublicMessages = Shape<typeof zhCN>

export const publicMessages: Record<Locale, PublicMessages> = { 'zh-CN': zhCN, en }

export function createPublicI18n(locale?: Locale) {
  return createI18n({ ...localeOptions(locale), messages: publicMessages })
}
