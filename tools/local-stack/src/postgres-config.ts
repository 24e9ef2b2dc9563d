import { join } from 'node:path'

export const POSTGRES_DATABASE = 'ad_tracking'
export const POSTGRES_SUPERUSER = 'postgres'
/** Our settings live in their own file, included from postgresql.conf, and are rewritten on every start. */
export const POSTGRES_CONF_FILE = 'local-stack.conf'
export const POSTGRES_INCLUDE_LINE = `include '${POSTGRES_CONF_FILE}'`

export function postgresUrl(port: number): string {
  // The password is ignored (trust auth on loopback) but kept so the URL matches what services expect.
  return `postgres://${POSTGRES_SUPERUSER}:password@127.0.0.1:${port}/${POSTGRES_DATABASE}`
}

/** The files postgresConf's ssl settings name, copied into the data dir (Postgres checks their owner). */
export const POSTGRES_TLS_FILES = { cert: 'server.crt', key: 'server.key' } as const

/**
 * The same database over TLS, verified as production connects (DATABASE_URL's libpq parameters):
 * the certificate must chain to `caFile` and name the host, localhost.
 */
export function postgresTlsUrl(port: number, caFile: string): string {
  const url = new URL(postgresUrl(port))
  url.hostname = 'localhost'
  // The file's path stays readable in the URL: only what would end the parameter is escaped.
  return `${url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile).replaceAll('%2F', '/')}`
}

export function initdbArgs(dataDir: string): string[] {
  return [
    '-D',
    dataDir,
    '-U',
    POSTGRES_SUPERUSER,
    // Loopback-only development and test server: nothing to authenticate against.
    '--auth=trust',
    '--encoding=UTF8',
    // The C locale exists on every machine, unlike e.g. en_US.UTF-8, and sorts the same everywhere.
    '--locale=C',
  ]
}

// Linux's sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH = 107

/**
 * The socket lives in the data dir (not /var/run/postgresql, which may not exist or not be ours); when that
 * path is too long for a Unix socket, there is no socket at all and clients use TCP.
 */
export function socketDirectory(dataDir: string, port: number): string {
  return join(dataDir, `.s.PGSQL.${port}`).length <= MAX_SOCKET_PATH ? dataDir : ''
}

export function postgresConf(opts: { dataDir: string; port: number; tls?: boolean }): string {
  const settings: [string, string | number][] = [
    ['listen_addresses', '127.0.0.1'],
    ['port', opts.port],
    ['unix_socket_directories', socketDirectory(opts.dataDir, opts.port)],
    ['fsync', 'on'],
    ['max_connections', 200],
    // stderr goes to postgres.log in the data dir (the process's stdout/stderr are redirected there).
    ['logging_collector', 'off'],
    ['log_destination', 'stderr'],
    ['log_line_prefix', '%m [%p] '],
    // TLS beside plain connections: a client asks for it (sslmode) or not.
    ...(opts.tls
      ? ([
          ['ssl', 'on'],
          ['ssl_cert_file', POSTGRES_TLS_FILES.cert],
          ['ssl_key_file', POSTGRES_TLS_FILES.key],
        ] as [string, string][])
      : []),
  ]
  const lines = settings.map(([key, value]) => `${key} = ${typeof value === 'number' ? value : quote(value)}`)
  return `# Written by @adtrack/local-stack on every start; changes here are overwritten.\n${lines.join('\n')}\n`
}

function quote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}
