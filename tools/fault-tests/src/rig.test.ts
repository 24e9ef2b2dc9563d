import { describe, expect, it } from 'vitest'
import { compareCounters, findings } from './rig.js'

// The arithmetic behind the fault suite's table: a row of zeros must mean the stores agree.
describe('compareCounters', () => {
  it('counts what Redis holds beyond Postgres as duplicated, and every difference as drift', () => {
    const postgres = new Map([
      ['events/1/impression', 10],
      ['events/1/complete', 6],
      ['1/valid', 4],
    ])
    const redis = new Map([
      ['events/1/impression', 11], // a pixel counted twice
      ['events/1/complete', 5], // one missing
      ['1/valid', 4],
      ['events/2/start', 1], // a counter Postgres has no row for
    ])
    expect(compareCounters(postgres, redis)).toEqual({ drift: 3, duplicated: 2 })
  })

  it('counts an error code counted twice as drift only: the error event itself says duplicated', () => {
    const postgres = new Map([
      ['events/1/error', 1],
      ['errors/1/405', 1],
    ])
    const redis = new Map([
      ['events/1/error', 2],
      ['errors/1/405', 2],
    ])
    expect(compareCounters(postgres, redis)).toEqual({ drift: 2, duplicated: 1 })
  })
})

describe('findings', () => {
  it('tells lost, phantom and unacknowledged rows apart; a dead-lettered acknowledgement is not lost', () => {
    const stored = new Set(['a', 'b', 'x', 'late'])
    const acknowledged = new Map([
      ['a', '1'],
      ['b', '1'],
      ['gone', '2'],
      ['dlq', '3'],
    ])
    const attempted = new Set(['a', 'b', 'gone', 'dlq', 'late'])
    expect(findings(stored, acknowledged, attempted, { drift: 0, duplicated: 0 }, new Set(['dlq']))).toEqual({
      lost: 1,
      duplicated: 0,
      redisDrift: 0,
      phantom: 1,
      unacknowledgedStored: 2,
    })
  })
})
