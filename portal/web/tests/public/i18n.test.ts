// The public portal's catalogue: every string in both languages, every key its sources (and
// the shared language switch it shows) use, and a name for every report status.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

import { describe, expect, it } from 'vitest'

import { REPORT_STATUSES } from '@/public/api'
import { publicMessages } from '@/public/i18n'

type Tree = { [key: string]: string | Tree }

function leaves(tree: Tree, prefix = ''): Map<string, string> {
  const found = new Map<string, string>()
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (typeof value === 'string') found.set(path, value)
    else for (const [inner, text] of leaves(value, path)) found.set(inner, text)
  }
  return found
}

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return /\.(vue|ts)$/.test(name) ? [path] : []
  })
}

const KEY_USE = /(?:^|[^\w$])(?:\$t|t)\(\s*(['"])([\w.-]+)\1/g
const SRC = resolve(__dirname, '../../src')
const zh = leaves(publicMessages['zh-CN'] as unknown as Tree)
const en = leaves(publicMessages.en as unknown as Tree)
const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort()

describe('the public catalogue', () => {
  it('has the same keys in both languages, none empty, with the same placeholders', () => {
    expect([...zh.keys()].filter((key) => !en.has(key))).toEqual([])
    expect([...en.keys()].filter((key) => !zh.has(key))).toEqual([])
    expect([...zh, ...en].filter(([, text]) => !text.trim()).map(([key]) => key)).toEqual([])
    expect([...zh].filter(([key, text]) => placeholders(text).join() !== placeholders(en.get(key)!).join()).map(([key]) => key)).toEqual([])
  })

  it('has every key the public sources and the shared components they show use', () => {
    const files = [
      ...sourceFiles(join(SRC, 'public')),
      join(SRC, 'shared/components/LanguageSwitch.vue'),
      join(SRC, 'shared/components/TimeText.vue'),
    ]
    const used = new Map<string, string>()
    for (const file of files) for (const match of readFileSync(file, 'utf-8').matchAll(KEY_USE)) used.set(match[2]!, file)
    expect(used.size).toBeGreaterThan(40)
    expect([...used].filter(([key]) => !zh.has(key)).map(([key, file]) => `${key} (${file})`)).toEqual([])
  })

  it('has the keys built at run time: statuses, division levels, wait units, form problems', async () => {
    const built = [
      ...REPORT_STATUSES.flatMap((status) => [`status.${status}`, `statusHint.${status}`]),
      ...['province', 'city', 'county'].map((level) => `report.${level}`),
      'errors.seconds',
      'errors.minutes',
    ]
    const { draftProblems, emptyDraft } = await import('@/public/logic/report-form')
    const everything = draftProblems({ ...emptyDraft(), anonymous: false, observedAt: '3000-01-01T00:00', mobile: '1' }, 6)
    built.push(...Object.values(everything))
    expect(built.filter((key) => !zh.has(key) || !en.has(key))).toEqual([])
  })

  it('names the portal and the home page as the landing page did (its browser test reads them)', () => {
    expect(zh.get('brand.title')).toBe('安监 · 安全生产智能监控')
    expect(zh.get('home.appLink')).toBe('企业端')
    expect(zh.get('home.govLink')).toBe('政府端')
    expect(en.get('home.appLink')).toBe('Enterprise console')
    expect(en.get('brand.title')).toBe('Anjian · Intelligent safety-production monitoring')
  })
})
