import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

export interface Service {
  name: string
  process: ChildProcess
  output: () => string
  stop(): Promise<void>
}

/** Starts `node <entry>` with `env` and waits until `readyUrl` answers 200 (60 s at most). */
export async function startProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  readyUrl: string,
  cwd: string,
  nodeArgs: string[] = [],
): Promise<Service> {
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = once(child, 'exit')
  const service: Service = {
    name,
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
        await exited
        clearTimeout(timer)
      }
    },
  }
  const until = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output}`)
    try {
      const res = await fetch(readyUrl)
      if (res.status === 200) return service
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      await service.stop()
      throw new Error(`${name} not ready within 60 s:\n${output}`)
    }
    await sleep(200)
  }
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
