import type { ReadinessCheck } from '@adtrack/service-runtime'

/**
 * Not ready while the spool is being replayed or holds more than `highWaterBytes`: a load balancer then
 * sends clicks to other pods and this one drains its backlog to Kafka instead of growing it. Liveness is
 * untouched (nothing is wrong with the process). While Kafka is simply unreachable the pod stays ready:
 * every pod is in the same position then, and taking clicks into the spool is what it is for.
 */
export function spoolReadiness(
  producer: { readonly replaying: boolean },
  spool: { readonly bytes: number; readonly records: number },
  highWaterBytes: number,
): ReadinessCheck {
  return async () => {
    if (producer.replaying) throw new Error(`replaying ${spool.records} spooled clicks to Kafka`)
    if (spool.bytes > highWaterBytes) {
      throw new Error(`spool above its high-water mark: ${spool.bytes} of ${highWaterBytes} bytes`)
    }
  }
}
