import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/**
 * Runs fn while holding a lock directory, so that parallel test workers (and parallel CI jobs on one
 * machine) install a tool once rather than racing. A lock whose owner process is gone is taken over.
 */
export async function withLock<T>(
  lockDir: string,
  fn: () => Promise<T>,
  timeoutMs = 15 * 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  await mkdir(dirname(lockDir), { recursive: true })
  for (;;) {
    try {
      await mkdir(lockDir)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = Number((await readFile(join(lockDir, 'pid'), 'utf8').catch(() => '')).trim())
    if (owner && !isAlive(owner)) {
      await rm(lockDir, { recursive: true, force: true })
      continue
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${lockDir} (held by ${owner})`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  await writeFile(join(lockDir, 'pid'), String(process.pid))
  try {
    return await fn()
  } finally {
    await rm(lockDir, { recursive: true, force: true })
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
