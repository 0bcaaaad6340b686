// The message catalogues. Chinese is the reference shape; English must match it key for key
// (the type checks the shape, a unit test checks both ways and the keys the sources use).
import en from './messages/en'
import zhCN from './messages/zh-CN'

type Shape<T> = { [K in keyof T]: T[K] extends string ? string : Shape<T[K]> }
export type Messages = Shape<typeof zhCN>

export const LOCALES = ['zh-CN', 'en'] as const
export type Locale = (typeof LOCALES)[number]
export const DEFAULT_LOCALE: Locale = 'zh-CN'

export const messages: Record<Locale, Messages> = { 'zh-CN': zhCN, en }
