import { readdirSync, readFileSync } from 'node:fs'

interface ProcStat {
  ppid: number
  pgrp: number
}

/** ppid and process group of a live process, from /proc (Linux); undefined if gone or unreadable. */
export function procStat(pid: number): ProcStat | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses, so split after the last ')'.
  const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { ppid: Number(ppid), pgrp: Number(pgrp) }
}

/** Every live process below `pid`, children before grandchildren; empty where /proc does not exist. */
export function descendantsOf(pid: number): number[] {
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return []
  }
  const childrenOf = new Map<number, number[]>()
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const stat = procStat(Number(entry))
    if (!stat) continue
    childrenOf.set(stat.ppid, [...(childrenOf.get(stat.ppid) ?? []), Number(entry)])
  }
  const found: number[] = []
  for (let i = -1; i < found.length; i++) {
    found.push(...(childrenOf.get(i < 0 ? pid : (found[i] as number)) ?? []))
  }
  return found
}

/**
 * Signals a server and everything below it: its process group (a detached child leads its own) and every
 * descendant, including those that made groups of their own.
 * WHY: Postgres backends call setsid(), so signalling the postmaster's group misses them; a backend that
 * outlives a killed postmaster keeps the shared memory attached and the next start refuses to run.
 */
export function signalTree(pid: number, signal: NodeJS.Signals): void {
  const descendants = descendantsOf(pid)
  ignoreVanished(() => process.kill(-pid, signal))
  for (const descendant of descendants) ignoreVanished(() => process.kill(descendant, signal))
}

function ignoreVanished(signal: () => void): void {
  try {
    signal()
  } catch (err) {
    // ESRCH: already gone. EPERM: the pid was reused by a process that is not ours.
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ESRCH' && code !== 'EPERM') throw err
  }
}
