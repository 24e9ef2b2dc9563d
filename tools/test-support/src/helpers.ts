import { randomBytes } from 'node:crypto'
import { createSql, migrate, type Sql } from '@adtrack/db'
import type { StackTls } from '@adtrack/local-stack'
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs'
import { inject } from 'vitest'
import type { StackInfo } from './stack-info.js'

export function stack(): StackInfo {
  return inject('stack')
}

/** The stack's TLS listeners (Kafka SASL_SSL with SCRAM, PostgreSQL verify-full); an error if it has none. */
export function stackTls(): StackTls {
  const tls = stack().tls
  if (!tls) {
    throw new Error(
      "this test stack has no TLS listeners: run the tests on the native stack, or set TEST_STACK_TLS to a running stack's <data>/tls/connections.json",
    )
  }
  return tls
}

/**
 * A store or app a test file's beforeAll opens, read through a getter: a clear error, rather than a
 * TypeError on undefined, when something reads it before the hook ran (at the file's top level).
 */
export function opened<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not open yet: read it inside a test or hook`)
  return value
}

/** A name no other test uses: topics, groups, Redis key prefixes, databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`
}

/** A fresh, migrated database for one test file; drop() removes it. */
export async function createTestDatabase(): Promise<{ url: string; sql: Sql; drop: () => Promise<void> }> {
  const admin = createSql(stack().databaseUrl, { max: 1 })
  const name = uniqueName('t').toLowerCase()
  await admin.unsafe(`create database "${name}"`)
  const url = new URL(stack().databaseUrl)
  url.pathname = `/${name}`
  const sql = createSql(url.toString(), { max: 5 })
  await migrate(sql)
  return {
    url: url.toString(),
    sql,
    drop: async () => {
      await sql.end({ timeout: 5 })
      await admin.unsafe(`drop database if exists "${name}" with (force)`)
      await admin.end({ timeout: 5 })
    },
  }
}

export function testKafka(): Kafka {
  return new Kafka({ clientId: 'tests', brokers: stack().kafkaBrokers, logLevel: logLevel.NOTHING })
}

export async function createTopic(topic: string, partitions = 3): Promise<void> {
  const admin = testKafka().admin()
  await admin.connect()
  try {
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions: partitions }] })
    // TRICKY: a KRaft broker may answer "does not host this topic-partition" for a moment after the
    // controller created the topic, and kafkajs's waitForLeaders does not retry that (see service-runtime's
    // ensureTopic, which the services use). Offsets come from each partition's leader itself, so once they
    // all answer, a test can produce or subscribe at once.
    await waitFor(
      async () =>
        (await admin.fetchTopicOffsets(topic).catch(() => [])).length === partitions ? true : undefined,
      { timeoutMs: 30_000, intervalMs: 200, what: `every partition of ${topic} served` },
    )
  } finally {
    await admin.disconnect()
  }
}

/** A connected producer on the test stack, keyed like ingest-api's (the default partitioner). */
export async function connectedProducer(clientId: string): Promise<Producer> {
  const producer = new Kafka({
    clientId,
    brokers: stack().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  }).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await producer.connect()
  return producer
}

/** Reads a topic from the beginning, with a group of its own, until `count` JSON records have arrived. */
export async function readTopic(
  topic: string,
  count: number,
): Promise<{ key: string; value: Record<string, unknown>; partition: number }[]> {
  const consumer = testKafka().consumer({ groupId: uniqueName('reader') })
  const records: { key: string; value: Record<string, unknown>; partition: number }[] = []
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      records.push({ key: String(message.key), value: JSON.parse(String(message.value)), partition })
    },
  })
  try {
    await waitFor(async () => (records.length >= count ? true : undefined), { what: `${count} records` })
  } finally {
    await consumer.disconnect()
  }
  return records
}

/** Sum of the end offsets of a topic's partitions: how many records it has ever received. */
export async function topicRecordCount(topic: string): Promise<number> {
  const admin = testKafka().admin()
  await admin.connect()
  try {
    const offsets = await admin.fetchTopicOffsets(topic)
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)
  } finally {
    await admin.disconnect()
  }
}

/** Polls until check() returns a value that is not undefined, or throws after timeoutMs. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  { timeoutMs = 20_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
}

/** Inserts ads for a test directly into its database. */
export async function insertAds(
  sql: Sql,
  ads: { id: string; status?: 'active' | 'paused'; title?: string }[],
): Promise<void> {
  await sql`insert into ads ${sql(
    ads.map((a) => ({
      id: a.id,
      title: a.title ?? `Test ad ${a.id}`,
      image_url: `https://example.com/${a.id}.jpg`,
      target_url: `https://example.com/${a.id}`,
      status: a.status ?? 'active',
    })),
  )}`
}
