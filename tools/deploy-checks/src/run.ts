import { type Log, type RunOptions, runCommand } from '@adtrack/local-stack'

export type { Log }
export const stderrLog: Log = (message) => {
  process.stderr.write(`[deploy-checks] ${message}\n`)
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command to completion, collecting its output; never throws for a non-zero exit. */
export async function run(
  cmd: string,
  args: string[],
  opts: Pick<RunOptions, 'cwd' | 'env' | 'input' | 'timeoutMs'> = {},
): Promise<RunResult> {
  const { code, signal, stdout, stderr } = await runCommand(cmd, args, opts)
  // A timeout kills with SIGKILL: say so where the failure's output is read.
  return { code, stdout, stderr: signal ? `${stderr}\n[killed by ${signal}]` : stderr }
}

/** Runs a command and returns its stdout; throws with the command line and its output when it fails. */
export async function runChecked(
  cmd: string,
  args: string[],
  opts: Parameters<typeof run>[2] = {},
): Promise<string> {
  const result = await run(cmd, args, opts)
  if (result.code !== 0) {
    const output = `${result.stdout}\n${result.stderr}`.trim().slice(-8000)
    throw new Error(`\`${[cmd, ...args].join(' ')}\` exited with ${result.code}:\n${output}`)
  }
  return result.stdout
}
