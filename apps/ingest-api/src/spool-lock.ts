import { open, readFile, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'

// The spool's directory lock: one process per spool directory, since two appending to the same segments
// (or one replaying what the other is still writing) would lose or repeat clicks.

const LOCK_FILE = 'LOCK'

/** Directories locked by this process (the LOCK file's pid cannot tell two instances in one process apart). */
const lockedHere = new Set<string>()

export class SpoolLockedError extends Error {
  constructor(dir: string, holder: string) {
    super(
      `spool directory ${dir} is in use by ${holder}; one process per spool directory ` +
        '(if that process is gone for good, delete the LOCK file)',
    )
    this.name = 'SpoolLockedError'
  }
}

/** Takes the directory's LOCK file (host and pid), replacing a stale one left by a process that is gone. */
export async function takeLock(dir: string): Promise<void> {
  if (lockedHere.has(dir)) throw new SpoolLockedError(dir, 'this process')
  const path = join(dir, LOCK_FILE)
  const me = { host: hostname(), pid: process.pid }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx')
      try {
        await file.writeFile(JSON.stringify(me))
        await file.sync()
      } finally {
        await file.close()
      }
      lockedHere.add(dir)
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = await readLock(path)
    // Stale: written on this host by a process that is gone, or by an earlier life of this very pid
    // (a restarted container is pid 1 again). On another host we cannot tell, so we refuse.
    if (holder && !(holder.host === me.host && (holder.pid === me.pid || !isAlive(holder.pid)))) {
      throw new SpoolLockedError(dir, `pid ${holder.pid} on ${holder.host}`)
    }
    await unlink(path).catch(() => undefined)
  }
  throw new SpoolLockedError(dir, 'another process')
}

async function readLock(path: string): Promise<{ host: string; pid: number } | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as { host?: unknown; pid?: unknown }
    if (typeof parsed.host === 'string' && typeof parsed.pid === 'number') {
      return { host: parsed.host, pid: parsed.pid }
    }
  } catch {
    // An unreadable or half-written lock file is stale: writing it is the first thing a holder does.
  }
  return undefined
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export async function releaseLock(dir: string): Promise<void> {
  lockedHere.delete(dir)
  await unlink(join(dir, LOCK_FILE)).catch(() => undefined)
}
