import { defineConfig } from 'vite'
import { scriptBudget } from './src/build/size-budget.js'

// Served by analytics-api at /dashboard/ under a strict Content-Security-Policy (no inline script or
// style), so the build emits files only: one module script, one stylesheet (uPlot's CSS included).
export default defineConfig({
  base: '/dashboard/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    // Never inline an asset as a data: URL into the JS or CSS: the policy allows data: for images only.
    assetsInlineLimit: 0,
    // NOTE: the polyfill would be bundled, not inline, but every browser the policy targets has modulepreload.
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
  },
  plugins: [scriptBudget()],
  server: {
    // `pnpm --filter @adtrack/dashboard dev` against `npm start`'s gateway.
    proxy: Object.fromEntries(
      ['/ads', '/analytics', '/track', '/media'].map((p) => [p, 'http://127.0.0.1:8080']),
    ),
  },
})
