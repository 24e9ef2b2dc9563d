import { constants } from 'node:fs'
import { type FileHandle, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { crc32 } from 'node:zlib'
import { releaseLock, takeLock } from './spool-lock.js'

/**
 * An append-only, fsync'd, size-bounded queue of records on local disk, in numbered segment files.
 *
 * Record: [payload length: u32 BE][crc32 of the length bytes and the payload: u32 BE][payload].
 * A crash can leave the last record of a segment half-written (a "torn tail"); its length or CRC no
 * longer fits, so open() cuts it off. That record was never acknowledged: append() resolves only after
 * datasync() returned, and the caller acknowledges only after that.
 *
 * Segments are consumed oldest first: nextSegment() seals the oldest one (new appends go to a fresh
 * segment) and hands out its records; deleteSegment() removes it once they are safely elsewhere.
 * NOTE: one process per directory, enforced with a LOCK file holding host and pid (spool-lock.ts).
 */
export interface SpoolOptions {
  dir: string
  /** Appends that would take the spool's total size over this are refused with SpoolFullError. */
  maxBytes: number
  /** A segment that has reached this size is closed and the next append starts a new one. */
  segmentBytes?: number
}

export interface SpoolSegment {
  id: number
  records: Buffer[]
}

export class SpoolFullError extends Error {
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`spool full: ${bytes} of ${maxBytes} bytes used`)
    this.name = 'SpoolFullError'
  }
}

const HEADER_BYTES = 8
/** Guards the reader against a corrupt length field claiming a huge record. */
const MAX_RECORD_BYTES = 1024 * 1024
const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024
const SEGMENT_PATTERN = /^segment-(\d{12})\.spool$/
const segmentName = (id: number) => `segment-${String(id).padStart(12, '0')}.spool`

interface SegmentState {
  id: number
  bytes: number
  records: number
}

export function encodeRecord(payload: Buffer): Buffer {
  if (payload.length === 0 || payload.length > MAX_RECORD_BYTES) {
    throw new RangeError(`a spool record must be 1 to ${MAX_RECORD_BYTES} bytes, got ${payload.length}`)
  }
  const record = Buffer.allocUnsafe(HEADER_BYTES + payload.length)
  record.writeUInt32BE(payload.length, 0)
  record.writeUInt32BE(crc32(payload, crc32(record.subarray(0, 4))), 4)
  payload.copy(record, HEADER_BYTES)
  return record
}

/** The records of a segment file's contents, and how many bytes of it are valid (the rest is a torn tail). */
export function decodeRecords(data: Buffer): { records: Buffer[]; validBytes: number } {
  const records: Buffer[] = []
  let offset = 0
  while (offset + HEADER_BYTES <= data.length) {
    const length = data.readUInt32BE(offset)
    if (length === 0 || length > MAX_RECORD_BYTES || offset + HEADER_BYTES + length > data.length) break
    const payload = data.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length)
    if (crc32(payload, crc32(data.subarray(offset, offset + 4))) !== data.readUInt32BE(offset + 4)) break
    records.push(Buffer.from(payload))
    offset += HEADER_BYTES + length
  }
  return { records, validBytes: offset }
}

export class Spool {
  private readonly segments: SegmentState[] = []
  private active: { segment: SegmentState; file: FileHandle } | undefined
  private nextId: number
  private totalBytes = 0
  private totalRecords = 0
  private appending = 0
  /** Serialises every change to the files: appends, sealing, deletion. */
  private lock: Promise<unknown> = Promise.resolve()
  private readonly appendListeners = new Set<() => void>()
  private closed = false

  private constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    private readonly segmentBytes: number,
    recovered: SegmentState[],
    readonly droppedBytes: number,
  ) {
    this.segments.push(...recovered)
    for (const s of recovered) {
      this.totalBytes += s.bytes
      this.totalRecords += s.records
    }
    this.nextId = (recovered.at(-1)?.id ?? 0) + 1
  }

  /**
   * Opens (creating it if needed) and recovers a spool directory: takes the lock, cuts torn tails off,
   * removes empty segments. New appends always go to a new segment.
   */
  static async open(opts: SpoolOptions): Promise<Spool> {
    const dir = resolve(opts.dir)
    await mkdir(dir, { recursive: true })
    await takeLock(dir)
    try {
      const ids = (await readdir(dir))
        .map((name) => SEGMENT_PATTERN.exec(name)?.[1])
        .filter((id): id is string => id !== undefined)
        .map(Number)
        .sort((a, b) => a - b)
      const recovered: SegmentState[] = []
      let droppedBytes = 0
      for (const id of ids) {
        const path = join(dir, segmentName(id))
        const data = await readFile(path)
        const { records, validBytes } = decodeRecords(data)
        if (validBytes < data.length) {
          droppedBytes += data.length - validBytes
          const file = await open(path, 'r+')
          try {
            await file.truncate(validBytes)
            await file.sync()
          } finally {
            await file.close()
          }
        }
        if (records.length === 0) await unlink(path)
        else recovered.push({ id, bytes: validBytes, records: records.length })
      }
      await syncDir(dir)
      return new Spool(
        dir,
        opts.maxBytes,
        opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
        recovered,
        droppedBytes,
      )
    } catch (err) {
      await releaseLock(dir)
      throw err
    }
  }

  /** Bytes on disk in un-consumed segments. */
  get bytes(): number {
    return this.totalBytes
  }

  /** Records in un-consumed segments. */
  get records(): number {
    return this.totalRecords
  }

  /** True when nothing is spooled and no append is under way. */
  get isEmpty(): boolean {
    return this.totalRecords === 0 && this.appending === 0
  }

  /** Calls `listener` after every successful append; returns a function that removes it. */
  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener)
    return () => this.appendListeners.delete(listener)
  }

  /**
   * Appends the records, in order, and resolves once they are on disk (datasync returned).
   * All or nothing: throws SpoolFullError (or an I/O error) having kept none of them.
   */
  async append(payloads: Buffer[]): Promise<void> {
    if (payloads.length === 0) return
    const data = Buffer.concat(payloads.map(encodeRecord))
    this.appending++
    return this.exclusive(async () => {
      try {
        if (this.closed) throw new Error('spool is closed')
        if (this.totalBytes + data.length > this.maxBytes)
          throw new SpoolFullError(this.totalBytes, this.maxBytes)
        if (this.active && this.active.segment.bytes >= this.segmentBytes) await this.sealActive()
        const active = this.active ?? (await this.startSegment())
        try {
          await writeAll(active.file, data)
          await active.file.datasync()
        } catch (err) {
          // Leave no partial record behind, and write no more to a file whose sync failed: the next
          // append starts a new segment. If even the truncate fails, the valid prefix is still read
          // back (decodeRecords stops at the first bad record; open() cuts the rest off).
          await active.file.truncate(active.segment.bytes).catch(() => undefined)
          await this.sealActive().catch(() => undefined)
          throw err
        }
        active.segment.bytes += data.length
        active.segment.records += payloads.length
        this.totalBytes += data.length
        this.totalRecords += payloads.length
      } finally {
        this.appending--
      }
      for (const listener of this.appendListeners) listener()
    })
  }

  /**
   * The oldest segment and its records, or undefined when the spool is empty. If it is the segment being
   * appended to, it is sealed first, so that its records stay exactly these.
   */
  nextSegment(): Promise<SpoolSegment | undefined> {
    return this.exclusive(async () => {
      const oldest = this.segments[0]
      if (!oldest) return undefined
      if (this.active?.segment === oldest) await this.sealActive()
      const { records } = decodeRecords(await readFile(join(this.dir, segmentName(oldest.id))))
      return { id: oldest.id, records }
    })
  }

  /** Removes a consumed segment (it must have been sealed by nextSegment). */
  deleteSegment(id: number): Promise<void> {
    return this.exclusive(async () => {
      const index = this.segments.findIndex((s) => s.id === id)
      const segment = this.segments[index]
      if (!segment) return
      if (this.active?.segment === segment) throw new Error(`segment ${id} is still being written`)
      await unlink(join(this.dir, segmentName(id)))
      this.segments.splice(index, 1)
      this.totalBytes -= segment.bytes
      this.totalRecords -= segment.records
      await syncDir(this.dir)
    })
  }

  /** Waits for appends under way, closes the files and releases the lock; the data stays for next time. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      if (this.closed) return
      this.closed = true
      await this.sealActive()
      await releaseLock(this.dir)
    })
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.catch(() => undefined)
    return run
  }

  private async startSegment(): Promise<{ segment: SegmentState; file: FileHandle }> {
    const segment: SegmentState = { id: this.nextId++, bytes: 0, records: 0 }
    const file = await open(
      join(this.dir, segmentName(segment.id)),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND,
    )
    // A new file's directory entry is durable only once the directory itself is synced.
    await syncDir(this.dir)
    this.segments.push(segment)
    this.active = { segment, file }
    return this.active
  }

  private async sealActive(): Promise<void> {
    const active = this.active
    if (!active) return
    this.active = undefined
    await active.file.close()
    if (active.segment.records === 0) {
      // Nothing made it into this file: drop it rather than leave an empty segment around.
      await unlink(join(this.dir, segmentName(active.segment.id))).catch(() => undefined)
      this.segments.splice(this.segments.indexOf(active.segment), 1)
    }
  }
}

async function writeAll(file: FileHandle, data: Buffer): Promise<void> {
  let written = 0
  while (written < data.length) {
    const { bytesWritten } = await file.write(data, written, data.length - written)
    written += bytesWritten
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
