import { readFileSync } from 'node:fs'
import { type StartedProcess, startProcess as start, waitUntilReady } from '@adtrack/local-stack'

export type Service = StartedProcess

/** Starts `node <entry>` with `env` and waits until `readyUrl` answers 200 (60 s at most). */
export async function startProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  readyUrl: string,
  cwd: string,
  nodeArgs: string[] = [],
): Promise<Service> {
  // A service that ignores SIGTERM must not hang the bench's teardown.
  const service = start({
    name,
    command: process.execPath,
    args: [...nodeArgs, entry],
    env,
    cwd,
    killAfterMs: 15_000,
  })
  await waitUntilReady(service, readyUrl)
  return service
}

/** Peak resident set size of a live process, from /proc/<pid>/status (VmHWM), in MiB. */
export function peakRssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) / 1024
  } catch {
    return undefined
  }
}

