// The language of a page: `?lang=en` (or `?lang=zh-CN`) in the address wins, then the choice
// remembered from the language switch, then Chinese. The choice is kept in localStorage; it
// is a preference, not a secret. Nothing here imports a catalogue: the public portal brings
// its own small one, the portals theirs (`./index`).
import { computed, type ComputedRef } from 'vue'
import { useI18n } from 'vue-i18n'

export const LOCALES = ['zh-CN', 'en'] as const
export type Locale = (typeof LOCALES)[number]
export const DEFAULT_LOCALE: Locale = 'zh-CN'

const STORAGE_KEY = 'anjian.lang'

/** A locale for what a person or a URL may write (`en`, `en-US`, `zh`, `zh-cn`), or null. */
export function normaliseLocale(value: string | null | undefined): Locale | null {
  const lowered = value?.trim().toLowerCase()
  if (!lowered) return null
  if (lowered === 'en' || lowered.startsWith('en-')) return 'en'
  if (lowered === 'zh' || lowered.startsWith('zh-')) return 'zh-CN'
  return null
}

export function pickLocale(search: string, stored: string | null): Locale {
  const asked = normaliseLocale(new URLSearchParams(search).get('lang'))
  return asked ?? normaliseLocale(stored) ?? DEFAULT_LOCALE
}

export function storedLocale(): string | null {
  try {
    return window.localStorage.getItem(STORAGE_KEY)
  } catch {
    return null // storage disabled (private mode, policy): the address and the default remain
  }
}

function remember(locale: Locale): void {
  try {
    window.localStorage.setItem(STORAGE_KEY, locale)
  } catch {
    // not remembered; the page still switches
  }
}

/** The options of a page's vue-i18n but its messages, in the language the page asks for
 * (`createI18n({ ...localeOptions(), messages })`); the page's <html lang> follows. */
export function localeOptions(locale: Locale = pickLocale(window.location.search, storedLocale())) {
  document.documentElement.lang = locale
  if (new URLSearchParams(window.location.search).has('lang')) remember(locale)
  return {
    legacy: false as const,
    locale,
    fallbackLocale: DEFAULT_LOCALE,
    missingWarn: import.meta.env.DEV,
    fallbackWarn: import.meta.env.DEV,
  }
}

/** The page's language and a way to change it (for the language switch). */
export function useLocale(): { locale: ComputedRef<Locale>; setLocale: (next: Locale) => void } {
  const i18n = useI18n()
  const locale = computed(() => normaliseLocale(i18n.locale.value) ?? DEFAULT_LOCALE)
  function setLocale(next: Locale): void {
    i18n.locale.value = next
    document.documentElement.lang = next
    remember(next)
    // An address with ?lang= keeps saying the language now shown, so a reload shows it too.
    const url = new URL(window.location.href)
    if (url.searchParams.has('lang')) {
      url.searchParams.set('lang', next)
      window.history.replaceState(window.history.state, '', url)
    }
  }
  return { locale, setLocale }
}
