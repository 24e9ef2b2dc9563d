export type StoreName = 'postgres' | 'redis' | 'kafka'

/** A failure of one of the stores a batch is written to; the worker counts these by store. */
export class StoreError extends Error {
  constructor(
    readonly store: StoreName,
    cause: unknown,
    message = `${store}: ${(cause as Error)?.message ?? String(cause)}`,
  ) {
    super(message, { cause })
    this.name = 'StoreError'
  }
}

/**
 * The store refused the data itself (a PostgreSQL data or constraint error, a Redis script error caused
 * by a value): the same records will fail the same way on every retry, so retrying them would stop the
 * partition for good. The records that cause it go to the dead-letter topic, with `reason`.
 */
export class RefusedByStoreError extends StoreError {
  constructor(
    store: StoreName,
    cause: unknown,
    /** What the store said, e.g. `postgres 22021: invalid byte sequence for encoding "UTF8": 0x00`. */
    readonly reason: string,
  ) {
    super(store, cause, reason)
    this.name = 'RefusedByStoreError'
  }
}

/** The store could not be reached or could not answer now (lost connection, timeout, failover). */
export class StoreUnavailableError extends StoreError {
  constructor(store: StoreName, cause: unknown) {
    super(store, cause)
    this.name = 'StoreUnavailableError'
  }
}

/** Redis refused the batch while reconciliation rebuilds the counts: a wait, not a failure. */
export class ReconcilingError extends StoreUnavailableError {
  constructor(cause: unknown) {
    super('redis', cause)
    this.name = 'ReconcilingError'
  }
}

// NOTE: SQLSTATE classes 22 (data exception: bad encoding, out-of-range value, bad JSON text) and 23
// (integrity constraint violation) are about the values sent; every other class (08 connection, 53
// resources, 57 operator intervention, 40 serialization, ...) says nothing about the record.
// 23505 is left out: the insert absorbs click id conflicts (on conflict do nothing), so a unique
// violation can only be a race with another writer, which a retry resolves.
const REFUSED_SQLSTATE = /^2[23][0-9A-Z]{3}$/
const RETRYABLE_SQLSTATE = new Set(['23505'])

// Redis error replies caused by a value the script was given. Anything else (OOM, LOADING, BUSY,
// READONLY, MASTERDOWN, "max number of clients", connection errors) is about the server, not the data.
const REFUSED_REDIS = /user_script|running script|^WRONGTYPE|would overflow|not an integer|not a valid float/

/**
 * Tells a store's error apart: refused for its content (isolate and dead-letter the records), Redis
 * reconciling (wait), or anything else (the store is unavailable: pause, rewind and retry).
 * TRICKY: when unsure, say unavailable. Misjudging an outage as a refusal would dead-letter good clicks;
 * misjudging a refusal as an outage only holds the partition up, as before, and shows in the metrics.
 */
export function classifyStoreError(store: StoreName, err: unknown): StoreError {
  if (err instanceof StoreError) return err
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null
  const code = typeof e?.code === 'string' ? e.code : undefined
  const message = typeof e?.message === 'string' ? e.message : String(err)
  if (store === 'postgres') {
    if (code && REFUSED_SQLSTATE.test(code) && !RETRYABLE_SQLSTATE.has(code))
      return new RefusedByStoreError(store, err, `postgres ${code}: ${message}`)
    // postgres.js serialises parameters in this process: an unencodable value (a Date from an
    // unparsable time) throws a RangeError before anything is sent.
    if (err instanceof RangeError) return new RefusedByStoreError(store, err, `postgres: ${message}`)
  }
  if (store === 'redis' && e?.name === 'ReplyError') {
    if (message.startsWith('RECONCILING')) return new ReconcilingError(err)
    if (REFUSED_REDIS.test(message)) return new RefusedByStoreError(store, err, `redis: ${message}`)
  }
  return new StoreUnavailableError(store, err)
}

/** Runs one store operation and turns its failure into a classified StoreError. */
export async function inStore<T>(store: StoreName, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    throw classifyStoreError(store, err)
  }
}
