import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** The nearest directory at or above `from` that holds pnpm-workspace.yaml: the monorepo's root. */
export function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir
    if (dirname(dir) === dir) throw new Error(`no pnpm-workspace.yaml found above ${from}`)
  }
}
