// What each page ships before it can show anything: the JavaScript and CSS its index.html
// loads (entry script, preloaded chunks, stylesheets), each gzipped as a server would send it.
// Lazily loaded chunks (charts, rarely used pages) are not counted. `npm run size`.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

const dist = new URL('../dist/', import.meta.url).pathname
const pages = { '/': 'index.html', '/app/': 'app/index.html', '/gov/': 'gov/index.html' }
const REFERENCE = /<(?:script[^>]+src|link[^>]+href)="(\/assets\/[^"]+\.(?:js|css))"/g

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`
let failed = false
for (const [page, file] of Object.entries(pages)) {
  const html = readFileSync(join(dist, file), 'utf-8')
  const assets = [...new Set([...html.matchAll(REFERENCE)].map((match) => match[1]))]
  let raw = 0
  let gzipped = 0
  for (const asset of assets) {
    const bytes = readFileSync(join(dist, asset))
    raw += bytes.length
    gzipped += gzipSync(bytes, { level: 9 }).length
  }
  console.log(`${page.padEnd(6)} ${kb(gzipped).padStart(9)} gzip (${kb(raw)} raw, ${assets.length} files)`)
  // The enterprise console's budget (issue: initial JavaScript + CSS ≤ 400 KB gzip).
  if (page === '/app/' && gzipped > 400 * 1024) failed = true
}
if (failed) {
  console.error('the enterprise console ships more than 400 KB gzip before its first page')
  process.exit(1)
}
