// Level names in the reader's language: every level the indicator library ships has a name in
// both catalogues; a name typed in a site's override shows as typed.
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

import { describe, expect, it } from 'vitest'

import { LEVEL_KEYS, levelLabel } from '@/app/logic/level-label'
import { messages } from '@/shared/i18n/messages'

const LIBRARY = resolve(__dirname, '../../../../backend/alarms/indicators')

function libraryLevelNames(): string[] {
  const names = new Set<string>()
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk)
    else if (node && typeof node === 'object') {
      const record = node as Record<string, unknown>
      if (typeof record.name === 'string' && 'severity' in record) names.add(record.name)
      Object.values(record).forEach(walk)
    }
  }
  for (const file of readdirSync(LIBRARY).filter((f) => f.endsWith('.json'))) {
    walk(JSON.parse(readFileSync(join(LIBRARY, file), 'utf8')))
  }
  return [...names].sort()
}

function translator(locale: 'zh-CN' | 'en'): (key: string) => string {
  const names = (messages[locale] as unknown as { levelName: Record<string, string> }).levelName
  return (key) => {
    const text = names[key.replace(/^levelName\./, '')]
    if (text === undefined) throw new Error(`no message ${key}`)
    return text
  }
}

describe('levelLabel', () => {
  it('names the GB/T 50493 gas levels and the limits in Chinese', () => {
    const zh = translator('zh-CN')
    expect(levelLabel('1st level', zh)).toBe('一级报警')
    expect(levelLabel('2nd level', zh)).toBe('二级报警')
    expect(levelLabel('high-high', zh)).toBe('高高限')
    expect(levelLabel('low-low', zh)).toBe('低低限')
    expect(levelLabel('stale', zh)).toBe('数据中断')
  })

  it('names them in English too', () => {
    expect(levelLabel('1st level', translator('en'))).toBe('1st-level alarm')
  })

  it('shows a name an override made up as it was typed', () => {
    expect(levelLabel('炉顶高温', translator('zh-CN'))).toBe('炉顶高温')
  })

  it('knows every level name of the indicator library, in both languages', () => {
    const found = libraryLevelNames()
    expect(found.length).toBeGreaterThan(20)
    expect(found.filter((name) => !(name in LEVEL_KEYS))).toEqual([])
    for (const locale of ['zh-CN', 'en'] as const) {
      const t = translator(locale)
      for (const name of found) expect(levelLabel(name, t)).not.toBe('')
    }
  })
})
