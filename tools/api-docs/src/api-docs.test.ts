import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { validate } from 'openapi-to-postmanv2'
import { beforeAll, describe, expect, it } from 'vitest'
import { API_DOCS_FILES, generateApiDocs, REGENERATE_COMMAND, repoRoot } from './generate.js'

let generated: Record<string, string>
beforeAll(async () => {
  generated = await generateApiDocs()
}, 60_000)

const spec = (file: string) =>
  JSON.parse(generated[file] ?? '{}') as {
    openapi: string
    paths: Record<
      string,
      Record<string, { security?: unknown; parameters?: { name: string; required: boolean }[] }>
    >
  }

describe('the committed API descriptions', () => {
  it.each(Object.values(API_DOCS_FILES))('%s matches the code', async (file) => {
    const committed = await readFile(join(repoRoot, file), 'utf8').catch(() => '(missing)')
    expect(committed, `${file} is out of date: run \`${REGENERATE_COMMAND}\` to regenerate it`).toBe(
      generated[file],
    )
  })
})

describe('the generated OpenAPI descriptions', () => {
  it('hold no pattern a regular expression engine over Unicode text cannot compile (a surrogate range)', () => {
    for (const file of [API_DOCS_FILES.ingest, API_DOCS_FILES.analytics]) {
      expect(generated[file]).toContain('"pattern"')
      expect(generated[file]).not.toMatch(/\\\\uD[89A-F]/i)
    }
  })

  it('are OpenAPI 3.1 documents the Postman converter accepts', () => {
    for (const file of [API_DOCS_FILES.ingest, API_DOCS_FILES.analytics]) {
      expect(spec(file).openapi).toBe('3.1.0')
      expect(validate({ type: 'json', data: spec(file) })).toMatchObject({ result: true })
    }
  })

  it('describe the API routes and leave out the probes and /docs', () => {
    const ingest = Object.keys(spec(API_DOCS_FILES.ingest).paths)
    const analytics = Object.keys(spec(API_DOCS_FILES.analytics).paths)
    expect(ingest).toEqual(
      expect.arrayContaining([
        '/ads/click',
        '/ads/clicks',
        '/track/{ad_id}/{event}',
        '/track/{ad_id}/clickthrough',
        '/track/events',
      ]),
    )
    expect(analytics).toEqual(expect.arrayContaining(['/ads', '/ads/{id}', '/ads/analytics']))
    for (const path of [...ingest, ...analytics]) {
      expect(path).not.toMatch(/^\/(livez|readyz|docs)/)
    }
  })

  it('mark the admin operations as needing the admin key, and only those', () => {
    const paths = spec(API_DOCS_FILES.analytics).paths
    const secured = Object.entries(paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => operation.security)
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    )
    expect(secured.sort()).toEqual(['DELETE /ads/{id}', 'PATCH /ads/{id}', 'POST /ads'])
  })

  it('show query parameters with defaults as optional', () => {
    const parameters = spec(API_DOCS_FILES.analytics).paths['/ads']?.get?.parameters ?? []
    expect(parameters.map((p) => [p.name, p.required])).toEqual([
      ['limit', false],
      ['offset', false],
    ])
  })
})

describe('the generated Postman collection', () => {
  it('asks only for time ranges the API accepts (from earlier than to)', () => {
    const ranges: [string, string][] = []
    JSON.parse(generated[API_DOCS_FILES.postman] ?? '{}', (key, value) => {
      if (key === 'query' && Array.isArray(value)) {
        const at = (name: string) => value.find((q: { key: string }) => q.key === name)?.value
        if (at('from') !== undefined && at('to') !== undefined) ranges.push([at('from'), at('to')])
      }
      return value
    })
    expect(ranges.length).toBeGreaterThan(0)
    for (const [from, to] of ranges) expect(Date.parse(from)).toBeLessThan(Date.parse(to))
  })

  it('lists every value of a query parameter that takes one of a few (metric, granularity)', () => {
    const descriptions = new Map<string, string>()
    JSON.parse(generated[API_DOCS_FILES.postman] ?? '{}', (key, value) => {
      if (key === 'query' && Array.isArray(value))
        for (const q of value as { key: string; description?: { content: string } }[])
          if (q.description) descriptions.set(q.key, q.description.content)
      return value
    })
    expect(descriptions.get('metric')).toMatch(/one of clicks,impressions,ctr\)/)
    expect(descriptions.get('granularity')).toMatch(/one of minute,hour,day\)/)
  })
})
