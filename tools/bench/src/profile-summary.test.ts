import { describe, expect, it } from 'vitest'
import { origin, summarise } from './profile-summary.js'

describe('profile summary', () => {
  it('names where a frame’s code comes from', () => {
    expect(origin('file:///w/node_modules/.pnpm/kafkajs@2.2.4/node_modules/kafkajs/src/x.js', 'f')).toBe(
      'pkg kafkajs',
    )
    expect(origin('file:///w/node_modules/.pnpm/@fastify+ajv@1/node_modules/@fastify/ajv/x.js', 'f')).toBe(
      'pkg @fastify/ajv',
    )
    expect(origin('node:internal/buffer', 'f')).toBe('node internals')
    expect(origin('file:///w/apps/ingest-api/dist/app.js', 'f')).toBe('workspace apps/ingest-api')
    expect(origin('', '(garbage collector)')).toBe('(garbage collector)')
  })

  it('adds up self time per function and per origin', () => {
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 })
    const s = summarise({
      nodes: [
        { id: 1, callFrame: frame('(root)', '') },
        { id: 2, callFrame: frame('send', 'file:///w/node_modules/kafkajs/a.js') },
        { id: 3, callFrame: frame('(idle)', '') },
      ],
      samples: [2, 2, 3, 2],
      timeDeltas: [1000, 1000, 2000, 1000],
    })
    expect(s.totalMs).toBe(5)
    expect(s.top(2).origins).toEqual([
      { name: 'pkg kafkajs', ms: 3, share: 0.6 },
      { name: '(idle)', ms: 2, share: 0.4 },
    ])
  })
})
