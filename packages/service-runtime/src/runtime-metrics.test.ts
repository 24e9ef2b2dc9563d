import { Registry } from 'prom-client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { registerRuntimeMetrics } from './runtime-metrics.js'

afterEach(() => {
  vi.restoreAllMocks()
})

async function limit(): Promise<number | undefined> {
  const registry = new Registry()
  registerRuntimeMetrics(registry)
  const text = await registry.metrics()
  expect(text).toContain('nodejs_eventloop_lag_p99_seconds')
  const m = /^process_memory_limit_bytes (\S+)$/m.exec(text)
  return m ? Number(m[1]) : undefined
}

describe('process_memory_limit_bytes', () => {
  it("is the cgroup's memory limit", async () => {
    vi.spyOn(process, 'constrainedMemory').mockReturnValue(512 * 1024 * 1024)
    expect(await limit()).toBe(512 * 1024 * 1024)
  })

  it('is 0 without a limit (cgroups report 2^64 or 2^63, Node 0 when it cannot tell)', async () => {
    for (const none of [2 ** 64, 2 ** 63, 0]) {
      vi.spyOn(process, 'constrainedMemory').mockReturnValue(none)
      expect(await limit()).toBe(0)
    }
  })
})
