import {
  appendFile,
  type FileHandle,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { decodeRecords, encodeRecord, type Spool } from './spool.js'

let dir: string
const opened: Spool[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spool-test-'))
})

afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)))
  await rm(dir, { recursive: true, force: true })
})

/** The module as a new process would load it: a crash leaves nothing behind in memory. */
let spoolModule: typeof import('./spool.js')

async function openSpool(opts: { maxBytes?: number; segmentBytes?: number } = {}): Promise<Spool> {
  spoolModule ??= await import('./spool.js')
  const spool = await spoolModule.Spool.open({
    dir,
    maxBytes: opts.maxBytes ?? 1 << 20,
    segmentBytes: opts.segmentBytes,
  })
  opened.push(spool)
  return spool
}

/**
 * Abandons a spool without closing it, as a crash would: its files stay as written, its LOCK file stays
 * (holding our pid, as a restarted container's pid 1 would find it), and the next open is done by a fresh
 * copy of the module.
 */
async function crash(spool: Spool): Promise<void> {
  opened.splice(opened.indexOf(spool), 1)
  // The OS closes a dead process's descriptors; closing one changes nothing on disk.
  await (spool as unknown as { active?: { file: FileHandle } }).active?.file.close()
  vi.resetModules()
  spoolModule = await import('./spool.js')
}

const records = (...texts: string[]) => texts.map((t) => Buffer.from(t))
const texts = (buffers: Buffer[]) => buffers.map((b) => b.toString())
const segmentFiles = async () => (await readdir(dir)).filter((f) => f.endsWith('.spool')).sort()

/** Reads every segment, oldest first, deleting each: what a replay would see. */
async function drain(spool: Spool): Promise<string[]> {
  const out: string[] = []
  for (let segment = await spool.nextSegment(); segment; segment = await spool.nextSegment()) {
    out.push(...texts(segment.records))
    await spool.deleteSegment(segment.id)
  }
  return out
}

describe('record format', () => {
  it('round-trips records and stops at a torn or corrupt one', () => {
    const data = Buffer.concat(records('one', 'two', 'three').map(encodeRecord))
    expect(texts(decodeRecords(data).records)).toEqual(['one', 'two', 'three'])
    expect(decodeRecords(data).validBytes).toBe(data.length)

    const torn = data.subarray(0, data.length - 2)
    expect(texts(decodeRecords(torn).records)).toEqual(['one', 'two'])

    const flipped = Buffer.from(data)
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 0xff, flipped.length - 1)
    expect(texts(decodeRecords(flipped).records)).toEqual(['one', 'two'])

    // A length field that grew (a torn header) must not swallow the bytes that follow.
    const badLength = Buffer.from(data)
    badLength.writeUInt32BE(4, 0)
    expect(decodeRecords(badLength).records).toEqual([])

    // Zero-filled blocks, which a crash can leave at the end of a file, are not a record either.
    expect(decodeRecords(Buffer.concat([data, Buffer.alloc(64)])).validBytes).toBe(data.length)
  })
})

describe('Spool', () => {
  it('appends batches and hands them back in order, counting records and bytes', async () => {
    const spool = await openSpool()
    expect(spool.isEmpty).toBe(true)
    await spool.append(records('a1', 'a2'))
    await spool.append(records('b1'))
    await spool.append(records('c1', 'c2', 'c3'))
    expect(spool.records).toBe(6)
    expect(spool.bytes).toBe(6 * 8 + 2 * 6)
    expect(spool.isEmpty).toBe(false)
    expect(await drain(spool)).toEqual(['a1', 'a2', 'b1', 'c1', 'c2', 'c3'])
    expect(spool.isEmpty).toBe(true)
    expect(spool.bytes).toBe(0)
    expect(await segmentFiles()).toEqual([])
  })

  it('resolves an append only after datasync() has returned', async () => {
    const spool = await openSpool()
    await spool.append(records('first')) // opens the segment file
    const handle = await open(join(dir, 'probe'), 'w')
    const proto = Object.getPrototypeOf(handle) as { datasync: () => Promise<void> }
    await handle.close()
    const real = proto.datasync
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const datasync = vi.spyOn(proto, 'datasync').mockImplementation(async function (this: unknown) {
      await gate
      return real.call(this)
    })
    let done = false
    const appended = spool.append(records('second')).then(() => {
      done = true
    })
    await vi.waitFor(() => expect(datasync).toHaveBeenCalled())
    await new Promise((r) => setTimeout(r, 10))
    expect(done).toBe(false)
    release()
    await appended
    expect(done).toBe(true)
  })

  it('keeps what was appended across a crash and a reopen', async () => {
    const first = await openSpool()
    await first.append(records('x1', 'x2'))
    await first.append(records('y1'))
    await crash(first)
    const second = await openSpool()
    expect(second.records).toBe(3)
    expect(second.droppedBytes).toBe(0)
    await second.append(records('z1'))
    expect(await drain(second)).toEqual(['x1', 'x2', 'y1', 'z1'])
  })

  it('drops a torn tail on reopen and appends cleanly after it', async () => {
    const first = await openSpool()
    await first.append(records('kept-1', 'kept-2'))
    await first.append(records('torn'))
    await crash(first)
    const [file] = await segmentFiles()
    const path = join(dir, file as string)
    await truncate(path, (await stat(path)).size - 3) // the last write only half reached the disk

    const second = await openSpool()
    expect(second.records).toBe(2)
    expect(second.droppedBytes).toBe(8 + 4 - 3)
    expect((await stat(path)).size).toBe(2 * (8 + 6)) // cut back to the last whole record
    await second.append(records('after'))
    await crash(second)

    const third = await openSpool()
    expect(await drain(third)).toEqual(['kept-1', 'kept-2', 'after'])
  })

  it('drops a tail record whose checksum does not match', async () => {
    const first = await openSpool()
    await first.append(records('good'))
    await crash(first)
    const [file] = await segmentFiles()
    await appendFile(join(dir, file as string), Buffer.from([0, 0, 0, 3, 1, 2, 3, 4, 0x61, 0x62, 0x63]))
    const second = await openSpool()
    expect(await drain(second)).toEqual(['good'])
  })

  it('rolls over to a new segment at segmentBytes and deletes a segment only when told to', async () => {
    const spool = await openSpool({ segmentBytes: 30 })
    await spool.append(records('r1', 'r2')) // 20 bytes
    await spool.append(records('r3', 'r4')) // 40: segment 1 is full
    await spool.append(records('r5'))
    expect(await segmentFiles()).toHaveLength(2)

    const oldest = await spool.nextSegment()
    expect(texts(oldest?.records ?? [])).toEqual(['r1', 'r2', 'r3', 'r4'])
    // Not deleted yet: a crash now must leave it to be replayed again.
    expect(await segmentFiles()).toHaveLength(2)
    expect(spool.records).toBe(5)
    await spool.deleteSegment(oldest?.id as number)
    expect(await segmentFiles()).toHaveLength(1)
    expect(spool.records).toBe(1)
    expect(spool.bytes).toBe(10)
  })

  it('seals the segment being written when it is handed out, so later appends do not join it', async () => {
    const spool = await openSpool()
    await spool.append(records('old'))
    const segment = await spool.nextSegment()
    await spool.append(records('new'))
    expect(texts(segment?.records ?? [])).toEqual(['old'])
    await spool.deleteSegment(segment?.id as number)
    expect(spool.records).toBe(1)
    expect(await drain(spool)).toEqual(['new'])
  })

  it('refuses a batch that would exceed maxBytes, keeping none of it, and accepts again once drained', async () => {
    const spool = await openSpool({ maxBytes: 50 })
    await spool.append(records('aa', 'bb', 'cc')) // 30 bytes
    const refused = spool.append(records('dd', 'ee', 'ff'))
    await expect(refused).rejects.toBeInstanceOf(spoolModule.SpoolFullError)
    expect(spool.records).toBe(3)
    expect(spool.bytes).toBe(30)
    await spool.append(records('gg', 'hh')) // exactly 50 fits
    await crash(spool)

    const reopened = await openSpool({ maxBytes: 50 })
    expect(reopened.bytes).toBe(50)
    await expect(reopened.append(records('ii'))).rejects.toBeInstanceOf(spoolModule.SpoolFullError)
    expect(await drain(reopened)).toEqual(['aa', 'bb', 'cc', 'gg', 'hh'])
    await reopened.append(records('ii'))
    expect(reopened.records).toBe(1)
  })

  it('lets one spool at a time use a directory', async () => {
    const first = await openSpool()
    await expect(openSpool()).rejects.toThrow(/in use by this process/)
    await first.close()
    const second = await openSpool()
    expect(second.isEmpty).toBe(true)
  })

  it('refuses a directory locked by another live process, and takes over from a dead one', async () => {
    await writeFile(join(dir, 'LOCK'), JSON.stringify({ host: hostname(), pid: process.ppid }))
    await expect(openSpool()).rejects.toThrow(/in use by pid/)
    await writeFile(join(dir, 'LOCK'), JSON.stringify({ host: 'some-other-host', pid: 1 }))
    await expect(openSpool()).rejects.toThrow(/in use by pid 1 on some-other-host/)
    await writeFile(join(dir, 'LOCK'), JSON.stringify({ host: hostname(), pid: 2 ** 22 + 1 }))
    const spool = await openSpool()
    expect(JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')).pid).toBe(process.pid)
    await spool.close()
    opened.splice(0)
    expect(await readdir(dir)).not.toContain('LOCK')
  })
})
