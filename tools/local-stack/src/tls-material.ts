import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { ensureTools } from './install-tools.js'
import type { Log } from './log.js'
import { runChecked } from './run-command.js'
import { toolPath } from './system-tools.js'

/**
 * The local stack's own certificate authority and one server certificate signed by it, for the TLS
 * listeners of Kafka and PostgreSQL: what a client needs to connect with verification on (Kafka's
 * KAFKA_TLS_CA_FILE, PostgreSQL's sslmode=verify-full&sslrootcert=...).
 */
export interface TlsMaterial {
  /** The CA's certificate (PEM): what clients trust. */
  caFile: string
  /** The server's certificate (PEM), for localhost, 127.0.0.1 and ::1. */
  certFile: string
  /** Its private key (PEM, PKCS#8, unencrypted: loopback development only). */
  keyFile: string
  /** Key and certificate in one PEM file: a Kafka keystore of type PEM. */
  keystoreFile: string
}

/** The host names and addresses the server certificate is valid for. */
export const SERVER_NAMES = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']

export function tlsMaterialIn(dir: string): TlsMaterial {
  const root = resolve(dir)
  return {
    caFile: join(root, 'ca.pem'),
    certFile: join(root, 'server.pem'),
    keyFile: join(root, 'server.key'),
    keystoreFile: join(root, 'kafka-keystore.pem'),
  }
}

/**
 * Makes the CA and server certificate in `dir` once (with openssl) and reuses them after, so clients
 * keep trusting the same CA across restarts. Written to a temporary directory first and renamed into
 * place, so a start killed half-way leaves none or all of them.
 */
export async function ensureTlsMaterial(dir: string, log: Log): Promise<TlsMaterial> {
  const material = tlsMaterialIn(dir)
  if (Object.values(material).every((file) => existsSync(file))) return material
  await ensureTools(['openssl'], log)
  const openssl = toolPath('openssl')
  const root = resolve(dir)
  await mkdir(dirname(root), { recursive: true })
  const work = await mkdtemp(`${root}.tmp-`)
  try {
    const at = tlsMaterialIn(work)
    const caKey = join(work, 'ca.key')
    const csr = join(work, 'server.csr')
    const extensions = join(work, 'server.ext')
    const run = (args: string[]) => runChecked(openssl, args, { cwd: work, timeoutMs: 60_000 })
    log(`making the local stack's certificate authority and server certificate in ${root}`)
    await run([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '3650',
      '-subj',
      '/CN=ad-tracking local stack CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      caKey,
      '-out',
      at.caFile,
    ])
    await run([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-subj',
      '/CN=localhost',
      '-keyout',
      at.keyFile,
      '-out',
      csr,
    ])
    await writeFile(
      extensions,
      [
        `subjectAltName=${SERVER_NAMES.join(',')}`,
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
      ].join('\n'),
    )
    await run([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      at.caFile,
      '-CAkey',
      caKey,
      '-sha256',
      '-days',
      '3650',
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-extfile',
      extensions,
      '-out',
      at.certFile,
    ])
    const [key, cert] = await Promise.all([readFile(at.keyFile, 'utf8'), readFile(at.certFile, 'utf8')])
    await writeFile(at.keystoreFile, `${key.trimEnd()}\n${cert}`, { mode: 0o600 })
    await Promise.all([caKey, csr, extensions].map((file) => rm(file)))
    await rm(root, { recursive: true, force: true })
    await rename(work, root)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  return material
}
