import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type AnalyticsDeps, buildApp as buildAnalyticsApi } from '@adtrack/analytics-api/app'
import { AnalyticsConfig, IngestConfig } from '@adtrack/contracts'
import { buildApp as buildIngestApi, type IngestDeps } from '@adtrack/ingest-api/app'
import { loadConfig, Readiness } from '@adtrack/service-runtime'
import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import { toPostmanCollection } from './postman.js'

/** The repository root: the committed files are paths relative to it. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))

/** What regenerates every file below. */
export const REGENERATE_COMMAND = 'npm run api-docs'

export const API_DOCS_FILES = {
  ingest: 'openapi/ingest-api.json',
  analytics: 'openapi/analytics-api.json',
  postman: 'openapi/ad-tracking.postman_collection.json',
} as const

/**
 * A dependency the API description never touches: building an app registers its routes, and nothing
 * else runs. Any use of one is a bug here, reported by name.
 */
function unused<T>(name: string): T {
  return new Proxy(
    {},
    {
      get(_target, property) {
        throw new Error(`${name}.${String(property)} was used while generating the API description`)
      },
    },
  ) as T
}

/** The OpenAPI description an app serves at /docs/json, built from its routes' schemas. */
async function describe(app: FastifyInstance): Promise<Record<string, unknown>> {
  try {
    await app.ready()
    return (app as unknown as { swagger(): Record<string, unknown> }).swagger()
  } finally {
    await app.close()
  }
}

export function ingestApiSpec(): Promise<Record<string, unknown>> {
  const deps: IngestDeps = {
    catalog: unused('catalog'),
    producer: unused('producer'),
    registry: new Registry(),
    readiness: new Readiness({}),
  }
  return buildIngestApi(loadConfig(IngestConfig, { LOG_LEVEL: 'silent' }), deps).then(describe)
}

export function analyticsApiSpec(): Promise<Record<string, unknown>> {
  const deps: AnalyticsDeps = {
    ads: unused('ads'),
    adminAds: unused('adminAds'),
    counts: unused('counts'),
    postgresCounts: unused('postgresCounts'),
    traffic: unused('traffic'),
    registry: new Registry(),
    readiness: new Readiness({}),
  }
  return buildAnalyticsApi(loadConfig(AnalyticsConfig, { LOG_LEVEL: 'silent' }), deps).then(describe)
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`

/** Every committed API description file, path (relative to the repository root) to content. */
export async function generateApiDocs(): Promise<Record<string, string>> {
  const ingest = await ingestApiSpec()
  const analytics = await analyticsApiSpec()
  const postman = await toPostmanCollection({ 'ingest-api': ingest, 'analytics-api': analytics })
  return {
    [API_DOCS_FILES.ingest]: json(ingest),
    [API_DOCS_FILES.analytics]: json(analytics),
    [API_DOCS_FILES.postman]: json(postman),
  }
}

/** The committed files that differ from what the code generates now (missing ones included). */
export async function staleApiDocs(generated?: Record<string, string>): Promise<string[]> {
  const files = generated ?? (await generateApiDocs())
  const stale: string[] = []
  for (const [path, content] of Object.entries(files)) {
    const committed = await readFile(join(repoRoot, path), 'utf8').catch(() => undefined)
    if (committed !== content) stale.push(path)
  }
  return stale
}
