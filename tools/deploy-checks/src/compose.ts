import { composeFile } from './paths.js'
import { type Log, runChecked, stderrLog } from './run.js'
import { ensureDeployLint } from './tools.js'

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
 * the given profiles active, normalised: short syntax expanded, relative paths made absolute.
 */
export async function loadCompose(profiles: string[] = [], log: Log = stderrLog): Promise<ComposeProject> {
  const lint = await ensureDeployLint(log)
  return JSON.parse(await runChecked(lint, ['compose', composeFile, ...profiles])) as ComposeProject
}

/** A service's environment as strings (compose-go gives null for a bare `NAME`). */
export function environmentOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(
    Object.entries((service.environment ?? {}) as Record<string, string | null>)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, String(v)]),
  )
}
