import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rootCertificates } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PemFileError, pemCertificateFile, withCurrentCa } from './pem-file.js'

const [first, second] = rootCertificates.map((pem) => `${pem}\n`) as [string, string]

describe('pemCertificateFile', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adtrack-pem-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('refuses at once, naming the setting, a file it cannot read or that holds no certificate', async () => {
    expect(() => pemCertificateFile(join(dir, 'missing.pem'), 'KAFKA_TLS_CA_FILE')).toThrow(PemFileError)
    expect(() => pemCertificateFile(join(dir, 'missing.pem'), 'KAFKA_TLS_CA_FILE')).toThrow(
      /^KAFKA_TLS_CA_FILE cannot be read: ENOENT/,
    )
    await writeFile(join(dir, 'empty.pem'), '')
    expect(() => pemCertificateFile(join(dir, 'empty.pem'), 'X')).toThrow(
      /^X .*empty\.pem holds no PEM certificate/,
    )
  })

  it('hands out the file as it is now (a renewed CA), keeping the last good one while it is unusable', async () => {
    const file = join(dir, 'ca.pem')
    await writeFile(file, first)
    const current = pemCertificateFile(file, 'CA')
    expect(current()).toBe(first)
    await writeFile(file, second) // Kubernetes updated the mounted Secret
    expect(current()).toBe(second)
    await writeFile(file, '-----BEGIN CERT')
    expect(current()).toBe(second)
    await unlink(file)
    expect(current()).toBe(second)
  })

  it('withCurrentCa makes every copy of the options (one per connection) read the CA anew', async () => {
    const file = join(dir, 'copied.pem')
    await writeFile(file, first)
    const options = withCurrentCa({ rejectUnauthorized: true }, pemCertificateFile(file, 'CA'))
    expect(Object.assign({}, options)).toEqual({ rejectUnauthorized: true, ca: first })
    await writeFile(file, second)
    expect(Object.assign({}, options).ca).toBe(second)
  })
})
