// The message catalogues. Chinese is the reference shape; English must match it key for key
// (the type checks the shape, a unit test checks both ways and the keys the sources use).
import type { Locale } from './locale'
import en from './messages/en'
import zhCN from './messages/zh-CN'

export { DEFAULT_LOCALE, LOCALES, type Locale } from './locale'

type Shape<T> = { [K in keyof T]: T[K] extends string ? string : Shape<T[K]> }
export type Messages = Shape<typeof zhCN>

export const messages: Record<Locale, Messages> = { 'zh-CN': zhCN, en }
