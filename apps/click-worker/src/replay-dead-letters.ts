#!/usr/bin/env node
// Sends the records on the dead-letter topic back to the clicks topic, after a fix.
//   node apps/click-worker/dist/replay-dead-letters.js [--dry-run]
// Progress is kept by its own consumer group (<KAFKA_GROUP_ID>-dlq-replay), so a record is replayed
// once; one that is still invalid lands on the dead-letter topic again, with its new reason.
import { deadLetterTopic, WorkerConfig } from '@adtrack/contracts'
import { createLogger, loadConfigOrExit } from '@adtrack/service-runtime'
import { createKafka, kafkaSecurity } from '@adtrack/service-runtime/kafka'
import { DLQ_HEADERS } from './dead-letters.js'

const dryRun = process.argv.includes('--dry-run')
const config = loadConfigOrExit('replay-dead-letters', WorkerConfig, process.env, kafkaSecurity)
const say = (msg: string) => process.stderr.write(`[replay-dead-letters] ${msg}\n`)
const kafka = createKafka({
  connection: config,
  clientId: 'replay-dead-letters',
  logger: createLogger('replay-dead-letters', 'warn'),
})
const dlq = deadLetterTopic(config.KAFKA_TOPIC)
const groupId = `${config.KAFKA_GROUP_ID}-dlq-replay`

const admin = kafka.admin()
await admin.connect()
const ends = await admin.fetchTopicOffsets(dlq)
const committed = await admin.fetchOffsets({ groupId, topics: [dlq] })
await admin.disconnect()
const target = new Map(ends.map((p) => [p.partition, BigInt(p.high)]))
const startAt = new Map(
  (committed[0]?.partitions ?? []).map((p) => [
    p.partition,
    p.offset === '-1' ? BigInt(ends.find((e) => e.partition === p.partition)?.low ?? '0') : BigInt(p.offset),
  ]),
)
const pending = [...target].reduce((n, [p, high]) => n + Number(high - (startAt.get(p) ?? 0n)), 0)
say(`${pending} dead letter(s) waiting on ${dlq}${dryRun ? ' (dry run: listing only)' : ''}`)
if (pending === 0) process.exit(0)

const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
const consumer = kafka.consumer({ groupId })
await producer.connect()
await consumer.connect()
await consumer.subscribe({ topic: dlq, fromBeginning: true })
let replayed = 0
const done = new Promise<void>((resolve) => {
  const caughtUp = new Set<number>()
  const check = (partition: number, next: bigint) => {
    if (next >= (target.get(partition) ?? 0n)) caughtUp.add(partition)
    if ([...target].every(([p, high]) => caughtUp.has(p) || high <= (startAt.get(p) ?? 0n))) resolve()
  }
  for (const [p] of target) check(p, startAt.get(p) ?? 0n)
  void consumer.run({
    autoCommit: !dryRun,
    eachMessage: async ({ partition, message }) => {
      const reason = message.headers?.[DLQ_HEADERS.reason]?.toString() ?? '(no reason)'
      const from = `${message.headers?.[DLQ_HEADERS.topic] ?? '?'}/${message.headers?.[DLQ_HEADERS.partition] ?? '?'}@${message.headers?.[DLQ_HEADERS.offset] ?? '?'}`
      if (dryRun) {
        say(`offset ${message.offset} from ${from}: ${reason}`)
      } else {
        await producer.send({
          topic: config.KAFKA_TOPIC,
          acks: -1,
          messages: [{ key: message.key, value: message.value }],
        })
        replayed++
        if (replayed % 1000 === 0) say(`replayed ${replayed} of ${pending}`)
      }
      check(partition, BigInt(message.offset) + 1n)
    },
  })
})
await done
await consumer.disconnect()
await producer.disconnect()
say(
  dryRun
    ? `listed ${pending} dead letter(s); nothing sent`
    : `replayed ${replayed} dead letter(s) to ${config.KAFKA_TOPIC}`,
)
