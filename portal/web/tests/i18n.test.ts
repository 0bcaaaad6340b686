// Every string is in both languages, and every key the sources ask for exists.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

import { describe, expect, it } from 'vitest'

import { messages } from '@/shared/i18n/messages'

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
    return /\.(vue|ts)$/.test(name) && !name.endsWith('.d.ts') ? [path] : []
  })
}

// `t('a.b')`, `$t("a.b")`, `i18n.global.t('a.b', …)`; keys built at run time are not seen.
const KEY_USE = /(?:^|[^\w$])(?:\$t|t)\(\s*(['"])([\w.-]+)\1/g

const SRC = resolve(__dirname, '../src')
// The public portal has a catalogue of its own (tests/public/i18n.test.ts).
const PUBLIC = resolve(SRC, 'public')
const zh = leaves(messages['zh-CN'] as unknown as Tree)
const en = leaves(messages.en as unknown as Tree)
const placeholders = (text: string): string[] => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort()

describe('message catalogues', () => {
  it('has every Chinese key in English', () => {
    expect([...zh.keys()].filter((key) => !en.has(key))).toEqual([])
  })

  it('has every English key in Chinese', () => {
    expect([...en.keys()].filter((key) => !zh.has(key))).toEqual([])
  })

  it('leaves no message empty', () => {
    const empty = [...zh, ...en].filter(([, text]) => !text.trim()).map(([key]) => key)
    expect(empty).toEqual([])
  })

  it('uses the same placeholders in both languages', () => {
    const differing = [...zh].filter(([key, text]) => {
      return placeholders(text).join() !== placeholders(en.get(key) ?? '').join()
    })
    expect(differing.map(([key]) => key)).toEqual([])
  })

  it('has every key the sources use', () => {
    const used = new Map<string, string>()
    for (const file of sourceFiles(SRC).filter((path) => !path.startsWith(PUBLIC))) {
      for (const match of readFileSync(file, 'utf-8').matchAll(KEY_USE)) {
        used.set(match[2]!, relative(SRC, file))
      }
    }
    expect(used.size).toBeGreaterThan(20) // the scan itself works
    const missing = [...used].filter(([key]) => !zh.has(key) || !en.has(key))
    expect(missing.map(([key, file]) => `${key} (${file})`)).toEqual([])
  })

  it('has the keys the sources build from a portal name', () => {
    for (const portal of ['app', 'gov']) {
      for (const key of [`portal.${portal}`, `portal.${portal}Title`]) {
        expect(zh.has(key) && en.has(key), key).toBe(true)
      }
    }
  })
})
