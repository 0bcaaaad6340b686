// The portals' i18n: the language machinery of `./locale` over the portals' catalogue.
import { createI18n } from 'vue-i18n'

import { type Locale, localeOptions } from './locale'
import { messages } from './messages'

export { DEFAULT_LOCALE, LOCALES, type Locale, normaliseLocale, pickLocale, useLocale } from './locale'

export function createPortalI18n(locale?: Locale) {
  return createI18n({ ...localeOptions(locale), messages })
}
