import { chmod, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Log } from './log.js'

/**
 * Grants others search (x) permission on every ancestor of `dir` that lacks it.
 * WHY: as root we run Postgres as the `postgres` user, which must traverse the path to its data dir; that
 * path may sit under a 0700 directory such as mkdtemp's /tmp/xyz or /root. Search permission lets a user
 * reach a path it already knows, but not list or read anything.
 */
export async function makeAncestorsSearchable(dir: string, log: Log): Promise<void> {
  for (let current = dirname(dir); ; current = dirname(current)) {
    const { mode } = await stat(current)
    if ((mode & 0o001) === 0) {
      await chmod(current, (mode & 0o7777) | 0o001)
      log(`granted search permission (o+x) on ${current} so the postgres user can reach its data dir`)
    }
    if (dirname(current) === current) return
  }
}
