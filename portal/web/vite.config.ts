/// <reference types="vitest/config" />
// Three pages in one build: the public portal `/`, the enterprise console `/app/` and the
// government portal `/gov/`. Each has its own entry, so an anonymous visitor of `/` loads no
// console code (the public portal has its own message catalogue, too). Element Plus components are imported where they are used (not the whole
// library), and every asset gets a hashed name under `assets/` for a year-long cache.
import { fileURLToPath, URL } from 'node:url'

import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import Components from 'unplugin-vue-components/vite'
import { defineConfig } from 'vite'

const page = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

// `npm run dev` forwards the API to a server started with `make serve`.
const backend = process.env.ANJIAN_BACKEND ?? 'http://127.0.0.1:8000'

export default defineConfig({
  base: '/',
  plugins: [
    vue(),
    AutoImport({
      resolvers: [ElementPlusResolver()],
      dts: 'src/auto-imports.d.ts',
    }),
    Components({
      resolvers: [ElementPlusResolver()],
      dirs: [],
      dts: 'src/components.d.ts',
    }),
  ],
  resolve: {
    alias: { '@': page('./src') },
  },
  define: {
    // vue-i18n compiles messages without eval (the CSP allows no 'unsafe-eval').
    __INTLIFY_JIT_COMPILATION__: true,
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __VUE_PROD_DEVTOOLS__: false,
  },
  // The proof-of-work searcher (src/public/logic/pow.worker.ts) is a module worker: a
  // same-origin bundled file, as the CSP's script-src 'self' allows (no blob: or data: worker).
  worker: { format: 'es' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // The portals are served without a CDN; a source map next to each file helps nobody there.
    sourcemap: false,
    rolldownOptions: {
      input: {
        public: page('./index.html'),
        app: page('./app/index.html'),
        gov: page('./gov/index.html'),
      },
      output: {
        codeSplitting: {
          // Vue and vue-i18n, which every page loads, in one chunk of their own: the public
          // portal shares it with the others and it stays cached when a portal's code changes.
          groups: [{ name: 'vue', test: /node_modules[\\/](@vue|vue|vue-i18n|@intlify)[\\/]/ }],
        },
      },
    },
  },
  server: {
    proxy: {
      '/graphql': { target: backend, ws: true },
      '/api': backend,
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
    // Page tests mount Element Plus in jsdom: on a busy two-core machine one takes seconds.
    testTimeout: 20_000,
    // Element Plus components import their stylesheets: let Vite (not Node) load them.
    server: { deps: { inline: ['element-plus'] } },
  },
})
