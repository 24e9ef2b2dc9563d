import { open, stat } from 'node:fs/promises'

/** The last `count` non-empty lines of `text`. */
export function lastLines(text: string, count: number): string[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '')
  return lines.slice(-count)
}

/** Size of a file, or 0 if it does not exist yet: the offset from which "this run's" output starts. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch {
    return 0
  }
}

// Enough for ~20 lines of even a verbose JVM stack trace, without reading a long-lived log whole.
const TAIL_WINDOW_BYTES = 64 * 1024

/**
 * The last `count` lines written to `path` at or after byte `fromOffset`.
 * NOTE: logs are appended across runs; starting at the offset recorded before a spawn shows only what that
 * run wrote, not an older run's unrelated failure.
 */
export async function tailFile(path: string, count: number, fromOffset = 0): Promise<string[]> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(path, 'r')
    const { size } = await handle.stat()
    const start = Math.max(fromOffset, size - TAIL_WINDOW_BYTES)
    if (start >= size) return []
    const buffer = Buffer.alloc(size - start)
    await handle.read(buffer, 0, buffer.length, start)
    return lastLines(buffer.toString('utf8'), count)
  } catch {
    return []
  } finally {
    await handle?.close()
  }
}
