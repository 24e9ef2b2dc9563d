import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureTools } from './install-tools.js'
import type { Log } from './log.js'
import { runChecked } from './run-command.js'
import { toolPath } from './system-tools.js'

export const KAFKA_VERSION = '3.9.1'

// Same place from src/ (tests) and dist/ (built): both sit directly under the package root.
const POM = join(dirname(dirname(fileURLToPath(import.meta.url))), 'kafka', 'pom.xml')

/** Per user, outside the checkout, so a fresh clone reuses it (the jars themselves live in ~/.m2). */
export function kafkaClasspathFile(env: NodeJS.ProcessEnv = process.env): string {
  const cacheRoot = env.XDG_CACHE_HOME || join(homedir(), '.cache')
  return join(cacheRoot, 'ad-tracking', `kafka-${KAFKA_VERSION}.classpath`)
}

/** The entries of a classpath file, or undefined if it is unusable (missing, empty, a jar gone from ~/.m2). */
export function parseClasspath(text: string, exists: (path: string) => boolean): string[] | undefined {
  const entries = text
    .trim()
    .split(':')
    .filter((entry) => entry !== '')
  const hasBroker = entries.some((entry) => entry.endsWith(`/kafka_2.13-${KAFKA_VERSION}.jar`))
  if (!hasBroker || !entries.every(exists)) return undefined
  return entries
}

let resolving: Promise<string> | undefined

/**
 * The `java -cp` classpath of a Kafka broker, resolved by Maven on first use and cached; resolved again only
 * when a jar it names has disappeared.
 */
export function ensureKafkaClasspath(log: Log): Promise<string> {
  resolving ??= resolveClasspath(log).catch((err) => {
    resolving = undefined
    throw err
  })
  return resolving
}

async function resolveClasspath(log: Log): Promise<string> {
  const file = kafkaClasspathFile()
  const cached = await readFile(file, 'utf8').catch(() => '')
  const entries = parseClasspath(cached, existsSync)
  if (entries) return entries.join(':')

  await ensureTools(['java', 'maven'], log)
  log(`fetching Kafka ${KAFKA_VERSION} from Maven Central (first run only)`)
  await mkdir(dirname(file), { recursive: true })
  // Written aside and renamed, so a concurrent or interrupted run never sees half a classpath.
  const partial = `${file}.${process.pid}.partial`
  try {
    await runChecked(
      toolPath('maven'),
      ['-B', '-q', '-f', POM, 'dependency:build-classpath', `-Dmdep.outputFile=${partial}`],
      { timeoutMs: 15 * 60_000 },
    )
    const resolved = parseClasspath(await readFile(partial, 'utf8'), existsSync)
    if (!resolved) throw new Error(`Maven wrote no usable Kafka classpath to ${partial}`)
    await rename(partial, file)
    log(`Kafka ${KAFKA_VERSION}: ${resolved.length} jars, classpath cached in ${file}`)
    return resolved.join(':')
  } finally {
    await rm(partial, { force: true })
  }
}
