import { ReplyError } from 'ioredis'
import postgres from 'postgres'
import { describe, expect, it } from 'vitest'
import {
  classifyStoreError,
  inStore,
  ReconcilingError,
  RefusedByStoreError,
  StoreError,
  StoreUnavailableError,
} from './store-errors.js'

// The error shapes the clients really throw: postgres.js's PostgresError carries the SQLSTATE in
// .code, its connection errors a Node or postgres.js code; ioredis's server replies are ReplyErrors.
const pgError = (code: string, message: string) =>
  new postgres.PostgresError({ code, message, severity: 'ERROR' } as never)
const nodeError = (code: string, message = code) => Object.assign(new Error(message), { code })

describe('classifyStoreError', () => {
  it.each([
    ['22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
    ['22P05', 'unsupported Unicode escape sequence'],
    ['22P02', 'invalid input syntax for type json'],
    ['22008', 'date/time field value out of range: "2026-02-30T00:00:00Z"'],
    ['23514', 'new row for relation "clicks" violates check constraint'],
    ['23502', 'null value in column "ad_id" violates not-null constraint'],
  ])('says Postgres refused the data for SQLSTATE %s, with the code in the reason', (code, message) => {
    const err = classifyStoreError('postgres', pgError(code, message))
    expect(err).toBeInstanceOf(RefusedByStoreError)
    expect((err as RefusedByStoreError).reason).toBe(`postgres ${code}: ${message}`)
    expect(err.store).toBe('postgres')
  })

  it('counts a value postgres.js cannot encode (an invalid Date) as refused', () => {
    const err = classifyStoreError('postgres', new RangeError('Invalid time value'))
    expect(err).toBeInstanceOf(RefusedByStoreError)
    expect((err as RefusedByStoreError).reason).toBe('postgres: Invalid time value')
  })

  it.each([
    ['a unique violation (a race the insert absorbs on retry)', pgError('23505', 'duplicate key value')],
    ['too many connections', pgError('53300', 'sorry, too many clients already')],
    ['an admin shutdown (failover)', pgError('57P01', 'terminating connection due to administrator command')],
    ['a serialization failure', pgError('40001', 'could not serialize access')],
    ['a connection exception', pgError('08006', 'connection failure')],
    ['a refused connection', nodeError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1')],
    ['a reset connection', nodeError('ECONNRESET', 'read ECONNRESET')],
    ['a closed connection', nodeError('CONNECTION_CLOSED', 'write CONNECTION_CLOSED 127.0.0.1:5432')],
    ['a connect timeout', nodeError('CONNECT_TIMEOUT', 'write CONNECT_TIMEOUT 127.0.0.1:5432')],
    ['a plain error without a code', new Error('something odd')],
    ['a thrown string', 'boom'],
  ])('says Postgres is unavailable for %s', (_what, cause) => {
    expect(classifyStoreError('postgres', cause)).toBeInstanceOf(StoreUnavailableError)
  })

  it.each([
    ["ERR user_script:12: Script attempted to access nonexistent global variable 'x' script: abc"],
    ['ERR Error running script (call to f_abc): @user_script:5: bad argument'],
    ['WRONGTYPE Operation against a key holding the wrong kind of value'],
    ['ERR increment or decrement would overflow'],
    ['ERR value is not an integer or out of range'],
  ])('says Redis refused the data for %s', (message) => {
    const err = classifyStoreError('redis', new ReplyError(message))
    expect(err).toBeInstanceOf(RefusedByStoreError)
    expect((err as RefusedByStoreError).reason).toBe(`redis: ${message}`)
  })

  it('tells a reconciliation in progress (a wait) from a failure', () => {
    const err = classifyStoreError('redis', new ReplyError('RECONCILING counts are being rebuilt'))
    expect(err).toBeInstanceOf(ReconcilingError)
    expect(err).toBeInstanceOf(StoreUnavailableError)
  })

  it.each([
    ['out of memory', new ReplyError("OOM command not allowed when used memory > 'maxmemory'.")],
    ['loading its data', new ReplyError('LOADING Redis is loading the dataset in memory')],
    ['a replica after failover', new ReplyError("READONLY You can't write against a read only replica.")],
    ['a busy script', new ReplyError('BUSY Redis is busy running a script.')],
    ['too many clients', new ReplyError('ERR max number of clients reached')],
    ['a closed connection', new Error('Connection is closed.')],
    ['a refused connection', nodeError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6379')],
    ['a timeout', nodeError('ETIMEDOUT', 'connect ETIMEDOUT')],
  ])('says Redis is unavailable when %s', (_what, cause) => {
    expect(classifyStoreError('redis', cause)).toBeInstanceOf(StoreUnavailableError)
  })

  it('never calls a dead-letter topic failure a refusal of the data', () => {
    expect(classifyStoreError('kafka', pgError('22021', 'looks like data'))).toBeInstanceOf(
      StoreUnavailableError,
    )
  })

  it('leaves an already classified error as it is, and wraps what inStore runs', async () => {
    const refused = new RefusedByStoreError('postgres', null, 'postgres 22021: x')
    expect(classifyStoreError('redis', refused)).toBe(refused)
    const err = await inStore('redis', async () => {
      throw new ReplyError('ERR user_script:1: oops')
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StoreError)
    expect(err).toMatchObject({ store: 'redis', message: 'redis: ERR user_script:1: oops' })
  })
})
