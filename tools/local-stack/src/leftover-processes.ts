import { readdir, readFile, readlink } from 'node:fs/promises'
import { basename, sep } from 'node:path'
import { procStat } from './process-tree.js'

export interface LeftoverProcess {
  pid: number
  command: string
}

/**
 * Processes whose working directory is inside `dataDir` (every dependency server is started there) or whose
 * command line runs one of `entryPoints` (the services); only the topmost of each tree (a postmaster, not
 * its backends).
 * WHY: a run that was killed outright (SIGKILL) leaves its detached servers behind, holding the ports;
 * naming them turns "port 5432 is in use" into something one can act on. Linux only (reads /proc).
 */
export async function findLeftoverProcesses(
  dataDir: string,
  entryPoints: string[],
): Promise<LeftoverProcess[]> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((name) => /^\d+$/.test(name))
  const found = new Map<number, LeftoverProcess & { ppid: number }>()
  for (const pid of pids.map(Number)) {
    if (pid === process.pid) continue
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean)
    if (argv.length === 0) continue // kernel threads and zombies
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '')
    const inDataDir = cwd === dataDir || cwd.startsWith(dataDir + sep)
    if (!inDataDir && !argv.some((arg) => entryPoints.includes(arg))) continue
    found.set(pid, { pid, command: basename(argv[0] ?? '?'), ppid: procStat(pid)?.ppid ?? 0 })
  }
  return [...found.values()]
    .filter((candidate) => !found.has(candidate.ppid))
    .map(({ pid, command }) => ({ pid, command }))
}
