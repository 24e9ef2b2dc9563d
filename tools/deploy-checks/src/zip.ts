import { createHash } from 'node:crypto'
import { inflateRawSync } from 'node:zlib'

/** One file of a zip archive (wheels and Go module zips: no zip64, stored or deflated). */
export interface ZipEntry {
  name: string
  read(): Buffer
}

/** Lists a zip archive's files from its central directory; a Debian machine may have no unzip. */
export function readZip(zip: Buffer): ZipEntry[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)')
  const count = zip.readUInt16LE(eocd + 10)
  let at = zip.readUInt32LE(eocd + 16)
  const entries: ZipEntry[] = []
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry at ${at}`)
    const method = zip.readUInt16LE(at + 10)
    const compressedSize = zip.readUInt32LE(at + 20)
    const nameLength = zip.readUInt16LE(at + 28)
    const extraLength = zip.readUInt16LE(at + 30)
    const commentLength = zip.readUInt16LE(at + 32)
    const localHeader = zip.readUInt32LE(at + 42)
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength)
    at += 46 + nameLength + extraLength + commentLength
    if (name.endsWith('/')) continue
    entries.push({
      name,
      read() {
        const start =
          localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28)
        const data = zip.subarray(start, start + compressedSize)
        if (method === 0) return Buffer.from(data)
        if (method === 8) return inflateRawSync(data)
        throw new Error(`${name}: unsupported compression method ${method}`)
      },
    })
  }
  return entries
}

/**
 * The Go checksum database's hash of a module zip ("h1:", golang.org/x/mod/sumdb/dirhash.HashZip): the
 * SHA-256 of the sorted "<sha256 hex>  <name>\n" lines of its files.
 */
export function goModuleZipHash(entries: ZipEntry[]): string {
  // Byte order, as Go sorts (the names are ASCII).
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const lines = sorted.map(
    (entry) => `${createHash('sha256').update(entry.read()).digest('hex')}  ${entry.name}\n`,
  )
  return `h1:${createHash('sha256').update(lines.join('')).digest('base64')}`
}
