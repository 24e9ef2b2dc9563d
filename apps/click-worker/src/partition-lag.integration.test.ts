import { deadLetterTopic } from '@adtrack/contracts'
import { createTopic, insertAds, uniqueName, waitFor } from '@adtrack/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClickWorker } from './app.js'
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js'
import { clickMessage, workerStores } from './testing/worker-stores.js'

// worker_partition_lag follows the assignment: two real workers in one consumer group on a real
// two-partition topic. When the second joins, the first must stop exporting the partition it lost;
// when the second leaves, it exports nothing and the first reports both again.

const real = workerStores()
const topic = uniqueName('lag-clicks')
const groupId = uniqueName('lag-workers')
const prefix = `${uniqueName('lag')}:`
const ad = uniqueName('ad')
const workers: ClickWorker[] = []

beforeAll(async () => {
  await createTopic(topic, 2)
  await createTopic(deadLetterTopic(topic), 1)
  await insertAds(real.db.sql, [{ id: ad }])
})
afterAll(async () => {
  for (const w of workers) await w.stop().catch(() => {})
})

let seq = 0
async function sendToBoth(n: number): Promise<void> {
  await real.producer.send({
    topic,
    messages: Array.from({ length: 2 * n }, (_, i) => ({
      partition: i % 2,
      key: ad,
      value: JSON.stringify(clickMessage(ad, { user_agent: `Mozilla/5.0 (X11; Linux x86_64) Lag/${++seq}` })),
    })),
  })
}

/** A started worker, its metrics, and the partitions of its latest assignment (GROUP_JOIN). */
async function startWorker(): Promise<{
  worker: ClickWorker
  metrics: WorkerMetrics
  assigned: () => number[]
}> {
  const metrics = createWorkerMetrics()
  const worker = real.worker(
    { topic, groupId, prefix },
    { metrics, rules: { repeatWindowMs: 30_000, hourlyBudget: 1000 } },
  )
  let assigned: number[] = []
  worker.consumer.on(worker.consumer.events.GROUP_JOIN, (e) => {
    assigned = [...(e.payload.memberAssignment[topic] ?? [])].sort()
  })
  workers.push(worker)
  await worker.start()
  return { worker, metrics, assigned: () => assigned }
}

/** The partitions a worker's registry exports worker_partition_lag for. */
async function lagPartitions(metrics: WorkerMetrics): Promise<number[]> {
  return (await metrics.partitionLag.get()).values.map((v) => Number(v.labels.partition)).sort()
}

describe('worker_partition_lag across rebalances', () => {
  it('is exported only for the partitions a worker holds, and not at all once it leaves the group', async () => {
    const a = await startWorker()
    await sendToBoth(5)
    await waitFor(async () => ((await lagPartitions(a.metrics)).length === 2 ? true : undefined), {
      what: 'the first worker to report lag for both partitions',
      timeoutMs: 60_000,
    })

    const b = await startWorker()
    // Once the group has rebalanced, each holds one partition; new records give the newcomer a batch.
    await waitFor(async () => (a.assigned().length === 1 && b.assigned().length === 1 ? true : undefined), {
      what: 'the group to rebalance over both workers',
      timeoutMs: 60_000,
    })
    await sendToBoth(5)
    const split = await waitFor(
      async () => {
        const [ofA, ofB] = [await lagPartitions(a.metrics), await lagPartitions(b.metrics)]
        return ofA.length === 1 && ofB.length === 1 ? { ofA, ofB } : undefined
      },
      { what: 'each worker to export its own partition only', timeoutMs: 60_000 },
    )
    expect(split.ofA).toEqual(a.assigned())
    expect(split.ofB).toEqual(b.assigned())
    expect([...split.ofA, ...split.ofB].sort()).toEqual([0, 1])

    await b.worker.stop()
    workers.splice(workers.indexOf(b.worker), 1)
    expect(await lagPartitions(b.metrics)).toEqual([])
    await waitFor(async () => (a.assigned().length === 2 ? true : undefined), {
      what: 'the first worker to take both partitions back',
      timeoutMs: 60_000,
    })
    await sendToBoth(5)
    await waitFor(async () => ((await lagPartitions(a.metrics)).length === 2 ? true : undefined), {
      what: 'the first worker to report both partitions again',
      timeoutMs: 60_000,
    })
  }, 240_000)
})
