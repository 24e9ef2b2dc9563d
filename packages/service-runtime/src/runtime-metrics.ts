import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client'

/** Above this, constrainedMemory() is the "no limit" value of cgroups (2^63 or 2^64), not a limit. */
const NO_LIMIT = 2 ** 60

/**
 * The Node.js process metrics every service exports (prom-client's defaults: memory, event-loop delay,
 * handles, GC) plus process_memory_limit_bytes, so that the dashboard and alerts can set resident memory
 * against the container's limit from the service's own scrape, in Kubernetes and under Compose alike.
 */
export function registerRuntimeMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry })
  new Gauge({
    name: 'process_memory_limit_bytes',
    help: "The memory limit of the process's cgroup (a container's memory limit), from process.constrainedMemory(); 0 when there is none.",
    registers: [registry],
    collect() {
      const limit = process.constrainedMemory()
      this.set(limit > 0 && limit < NO_LIMIT ? limit : 0)
    },
  })
}
