// Builds the dashboard into dist/dashboard, served by the server at /dashboard/ (src/plugins/dashboard.ts).
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import preact from '@preact/preset-vite'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  plugins: [preact()],
  // `npx vite --config dashboard/vite.config.ts`: the front-end alone, the API of a server on :8000.
  server: { proxy: { '/v1': 'http://127.0.0.1:8000' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    // Everything in files of our own origin: the CSP allows no inline script or style.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
})
