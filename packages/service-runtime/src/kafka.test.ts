import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rootCertificates } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from './config.js'
import { kafkaSecurity, plaintextKafka } from './kafka.js'

const plain = plaintextKafka('broker:9092')
const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

describe('kafkaSecurity', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adtrack-kafka-tls-'))
    await writeFile(join(dir, 'ca.pem'), `${rootCertificates[0]}\n`)
    await writeFile(join(dir, 'empty.pem'), '')
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('adds neither TLS nor SASL to a plain connection', () => {
    expect(kafkaSecurity(plain)).toEqual({})
  })

  it("trusts Node.js's CAs with KAFKA_TLS alone, and the file's CA once KAFKA_TLS_CA_FILE names one", () => {
    expect(kafkaSecurity({ ...plain, KAFKA_TLS: true })).toEqual({ ssl: true })
    const ca = join(dir, 'ca.pem')
    expect(kafkaSecurity({ ...plain, KAFKA_TLS_CA_FILE: ca }).ssl).toEqual({
      ca: [`${rootCertificates[0]}\n`],
    })
  })

  it('passes SCRAM credentials on', () => {
    const sasl = { KAFKA_SASL_USERNAME: 'ingest-api', KAFKA_SASL_PASSWORD: 'pw' }
    expect(kafkaSecurity({ ...plain, ...sasl, KAFKA_SASL_MECHANISM: 'scram-sha-512' }).sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'ingest-api',
      password: 'pw',
    })
  })

  it('refuses, naming each variable, settings that cannot work together', () => {
    expect(problemsOf(() => kafkaSecurity({ ...plain, KAFKA_SASL_MECHANISM: 'scram-sha-256' }))).toEqual([
      'KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=scram-sha-256',
      'KAFKA_SASL_PASSWORD is required with KAFKA_SASL_MECHANISM=scram-sha-256',
    ])
    expect(problemsOf(() => kafkaSecurity({ ...plain, KAFKA_SASL_PASSWORD: 'pw' }))).toEqual([
      'KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set but KAFKA_SASL_MECHANISM is empty',
    ])
    const plainSasl = {
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
    } as const
    expect(problemsOf(() => kafkaSecurity({ ...plain, ...plainSasl }))).toEqual([
      'KAFKA_SASL_MECHANISM=plain sends the password in clear: set KAFKA_TLS=true',
    ])
    expect(problemsOf(() => kafkaSecurity({ ...plain, ...plainSasl, KAFKA_TLS: true }))).toEqual([])
  })

  it('refuses a CA file it cannot read or that holds no certificate', () => {
    expect(
      problemsOf(() => kafkaSecurity({ ...plain, KAFKA_TLS_CA_FILE: join(dir, 'missing.pem') }))[0],
    ).toMatch(/^KAFKA_TLS_CA_FILE cannot be read: ENOENT/)
    expect(
      problemsOf(() => kafkaSecurity({ ...plain, KAFKA_TLS_CA_FILE: join(dir, 'empty.pem') }))[0],
    ).toMatch(/holds no PEM certificate/)
  })
})
