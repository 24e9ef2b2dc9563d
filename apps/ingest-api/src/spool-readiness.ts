import type { ReadinessCheck } from '@adtrack/service-runtime'

/**
 * Readiness says whether this pod can take a click durably, never whether Kafka is up. It can while its
 * spool has room (a click Kafka does not take goes there), or while Kafka is taking the spool's backlog
 * (new clicks queue behind it, in order, and it shrinks). It cannot once the spool is above
 * `highWaterBytes` and Kafka is not taking the backlog: every click is about to be refused SPOOL_FULL, and
 * a pod with room (one the autoscaler just added, say) should get them instead.
 * NOTE: a pod that replays, a pod whose producer is not connected, and a pod whose breaker is open all stay
 * ready. Kafka is shared: failing readiness on it would take every pod out of the Service at once, and
 * the Ingress would then refuse with 503 every click the spools could have taken. Only when every spool
 * is full is every pod out, and then each would refuse anyway. Liveness is untouched.
 */
export function spoolReadiness(
  producer: { readonly replaying: boolean },
  spool: { readonly bytes: number; readonly records: number },
  highWaterBytes: number,
): ReadinessCheck {
  return async () => {
    if (spool.bytes <= highWaterBytes || producer.replaying) return
    throw new Error(
      `spool nearly full (${spool.bytes} of ${highWaterBytes} bytes at its high-water mark, ` +
        `${spool.records} clicks) and Kafka is not taking its backlog`,
    )
  }
}
