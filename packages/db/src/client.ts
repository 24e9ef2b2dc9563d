import type { ConnectionOptions } from 'node:tls'
import postgres from 'postgres'
import { PemFileError, pemCertificateFile, withCurrentCa } from './pem-file.js'

export type Sql = postgres.Sql

/** How a process connects: the database part of each service's configuration (packages/contracts). */
export interface DatabaseOptions {
  /** Pool size: the most connections this process opens. */
  max?: number
  applicationName?: string
  /** Overrides the URL's password when non-empty (a Kubernetes Secret key holding only the password). */
  password?: string
  /**
   * Named prepared statements (postgres.js's default). A transaction-mode PgBouncer passes them on only
   * from 1.21 with max_prepared_statements set; false sends every query unnamed, which any pooler passes.
   */
  prepare?: boolean
}

/** Thrown for a DATABASE_URL whose TLS settings cannot work; the message never includes the URL (a password). */
export class DatabaseUrlError extends Error {
  override name = 'DatabaseUrlError'
}

// libpq's client-certificate and revocation parameters: postgres.js would send them to the server as
// settings, which refuses the connection with "unrecognized configuration parameter".
const UNSUPPORTED_SSL_PARAMS = ['sslcert', 'sslkey', 'sslpassword', 'sslcrl', 'sslcrldir', 'sslsni']

/**
 * DATABASE_URL's TLS as libpq reads it, for what postgres.js does not do itself: `sslrootcert=<file>`
 * (the PEM of a private CA, CloudNativePG's say) and `sslmode=verify-ca`. Returns the URL without the
 * parameters taken here and the `ssl` option for postgres.js; undefined `ssl` leaves `sslmode` (disable,
 * allow, prefer, require, verify-full with the system CAs) and `sslrootcert=system` to postgres.js.
 * As in libpq: verify-full checks the chain and the host name; verify-ca, and require once a root
 * certificate is given, check the chain only; allow and prefer check nothing.
 */
export function databaseTls(url: string): { url: string; ssl?: ConnectionOptions } {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return { url } // postgres.js's own parser reports it (multi-host URLs are not WHATWG URLs)
  }
  const params = parsed.searchParams
  const unsupported = UNSUPPORTED_SSL_PARAMS.filter((name) => params.has(name))
  if (unsupported.length > 0) {
    throw new DatabaseUrlError(
      `DATABASE_URL: ${unsupported.join(', ')} not supported (TLS client certificates); use sslmode and sslrootcert`,
    )
  }
  const mode = params.get('sslmode') ?? 'prefer'
  const rootCert = params.get('sslrootcert')
  const verify = mode === 'verify-full' || mode === 'verify-ca' || (mode === 'require' && rootCert !== null)
  if (!verify || rootCert === 'system' || (mode === 'verify-full' && rootCert === null)) {
    // A URL with nothing to take out is passed on exactly as written.
    if (rootCert === null || rootCert === 'system') return { url }
    params.delete('sslrootcert')
    return { url: parsed.toString() }
  }
  let ca: (() => string) | undefined
  try {
    ca = rootCert === null ? undefined : pemCertificateFile(rootCert, 'DATABASE_URL: sslrootcert')
  } catch (err) {
    throw err instanceof PemFileError ? new DatabaseUrlError(err.message) : err
  }
  params.delete('sslmode')
  params.delete('sslrootcert')
  const ssl: ConnectionOptions = {
    rejectUnauthorized: true,
    // verify-ca: any certificate the CA signed, whatever host it names.
    ...(mode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
  }
  return { url: parsed.toString(), ssl: ca ? withCurrentCa(ssl, ca) : ssl }
}

/** A postgres.js pool with the settings every service uses. */
export function createSql(databaseUrl: string, opts: DatabaseOptions = {}): Sql {
  const { url, ssl } = databaseTls(databaseUrl)
  return postgres(url, {
    ...(ssl ? { ssl } : {}),
    max: opts.max ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    prepare: opts.prepare ?? true,
    ...(opts.password ? { password: opts.password } : {}),
    onnotice: () => {},
    connection: { application_name: opts.applicationName ?? 'ad-tracking' },
  })
}

/** createSql's options from a service's configuration (DATABASE_POOL_MAX, DATABASE_PASSWORD, DATABASE_PREPARE). */
export function databaseOptions(
  config: { DATABASE_POOL_MAX: number; DATABASE_PASSWORD: string; DATABASE_PREPARE: boolean },
  applicationName: string,
): DatabaseOptions {
  return {
    max: config.DATABASE_POOL_MAX,
    password: config.DATABASE_PASSWORD,
    prepare: config.DATABASE_PREPARE,
    applicationName,
  }
}
