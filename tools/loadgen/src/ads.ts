import { once } from 'node:events'
import { createWriteStream, type WriteStream } from 'node:fs'
import type { Pool } from 'undici'

/** The demo ads of the seed, used when GET /ads does not answer. */
export const DEMO_ADS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']

/** Fetches the ids of the active ads from GET /ads; the demo ads if that fails. */
export async function fetchAdIds(pool: Pool, base: string): Promise<string[]> {
  try {
    const res = await pool.request({ method: 'GET', path: `${base}/ads?limit=1000` })
    if (res.statusCode !== 200) {
      await res.body.dump()
      return DEMO_ADS
    }
    const ads = (await res.body.json()) as { id: string; status?: string }[]
    const ids = ads.filter((a) => a.status === undefined || a.status === 'active').map((a) => a.id)
    return ids.length > 0 ? ids : DEMO_ADS
  } catch {
    return DEMO_ADS
  }
}

/** Opens the --record file, runs `body`, and closes the file however it ended. */
export async function withRecord<T>(
  file: string | undefined,
  body: (record: WriteStream | undefined) => Promise<T>,
): Promise<T> {
  const record = file ? createWriteStream(file) : undefined
  try {
    return await body(record)
  } finally {
    if (record) {
      record.end()
      await once(record, 'close')
    }
  }
}
