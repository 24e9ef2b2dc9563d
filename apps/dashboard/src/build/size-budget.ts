import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { Plugin } from 'vite'

/** The most JavaScript, gzipped, the dashboard may ship in all (issue 13: under 150 KB). */
export const MAX_GZIPPED_JS_BYTES = 150 * 1024

/** Each .js file in `dir` with its gzipped size (level 9, as a server's static gzip would be at best). */
export async function gzippedScripts(dir: string): Promise<{ file: string; bytes: number }[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.js')).sort()
  return Promise.all(
    files.map(async (file) => ({
      file,
      bytes: gzipSync(await readFile(join(dir, file)), { level: 9 }).length,
    })),
  )
}

/** Throws, naming every file and its size, when the scripts in `dir` weigh more than `maxBytes` gzipped. */
export async function checkScriptBudget(dir: string, maxBytes: number): Promise<number> {
  const scripts = await gzippedScripts(dir)
  const total = scripts.reduce((sum, s) => sum + s.bytes, 0)
  if (total > maxBytes) {
    const list = scripts.map((s) => `${s.file} ${s.bytes} B`).join(', ')
    throw new Error(`dashboard JavaScript is ${total} B gzipped, over the ${maxBytes} B budget: ${list}`)
  }
  return total
}

/**
 * Fails `vite build` when dist/assets/*.js grows past the budget, so a heavy dependency is caught where
 * it is added rather than by a reader on a phone.
 */
export function scriptBudget(maxBytes = MAX_GZIPPED_JS_BYTES): Plugin {
  let assetsDir = ''
  return {
    name: 'adtrack-script-budget',
    apply: 'build',
    configResolved(config) {
      assetsDir = join(config.root, config.build.outDir, config.build.assetsDir)
    },
    async closeBundle() {
      const total = await checkScriptBudget(assetsDir, maxBytes)
      this.info?.(`JavaScript: ${total} B gzipped of ${maxBytes} B`)
    },
  }
}
