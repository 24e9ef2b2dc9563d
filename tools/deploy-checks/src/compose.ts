import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { composeFile, repoRoot } from './paths.js'
import { type Log, run, runChecked, stderrLog } from './run.js'
import { ensureDeployLint } from './tools.js'

/** The script that writes the credentials docker-compose.yml requires into .env. */
export const initEnvScript = join(repoRoot, 'deploy/compose/init-env.sh')

/** A fresh env file as `deploy/compose/init-env.sh <file>` writes it, read back; the file is removed. */
export async function generatedComposeEnv(): Promise<{
  file: string
  text: string
  cleanup: () => Promise<void>
}> {
  const dir = await mkdtemp(join(tmpdir(), 'compose-env-'))
  const file = join(dir, '.env')
  await runChecked('bash', [initEnvScript, file])
  return {
    file,
    text: await readFile(file, 'utf8'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
}

// biome-ignore lint/suspicious/noExplicitAny: compose-go's normalised project, checked field by field
export type ComposeService = Record<string, any>

export interface ComposeProject {
  name: string
  services: Record<string, ComposeService>
  // biome-ignore lint/suspicious/noExplicitAny: see ComposeService
  volumes?: Record<string, any>
}

/**
 * docker-compose.yml as Docker Compose loads it (compose-go: schema, interpolation, references), with
 * the given profiles active and the credentials a fresh `deploy/compose/init-env.sh` generates,
 * normalised: short syntax expanded, relative paths made absolute.
 */
export async function loadCompose(profiles: string[] = [], log: Log = stderrLog): Promise<ComposeProject> {
  const lint = await ensureDeployLint(log)
  const env = await generatedComposeEnv()
  try {
    return JSON.parse(
      await runChecked(lint, ['compose', '--env-file', env.file, composeFile, ...profiles]),
    ) as ComposeProject
  } finally {
    await env.cleanup()
  }
}

/** docker-compose.yml loaded with no env file at all: the error compose-go gives, or undefined. */
export async function composeErrorWithoutEnv(log: Log = stderrLog): Promise<string | undefined> {
  const lint = await ensureDeployLint(log)
  const result = await run(lint, ['compose', composeFile])
  return result.code === 0 ? undefined : result.stderr
}

/** A service's environment as strings (compose-go gives null for a bare `NAME`). */
export function environmentOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(
    Object.entries((service.environment ?? {}) as Record<string, string | null>)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, String(v)]),
  )
}
