/** Command-line configuration of redis-server (no config file to keep in sync). */
export function redisArgs(opts: {
  port: number
  dataDir: string
  persist: boolean
  /** A TLS port beside the plain one, with this certificate; clients show none (no client certificates). */
  tls?: { port: number; certFile: string; keyFile: string }
}): string[] {
  const tls = opts.tls
    ? [
        '--tls-port',
        String(opts.tls.port),
        '--tls-cert-file',
        opts.tls.certFile,
        '--tls-key-file',
        opts.tls.keyFile,
        '--tls-auth-clients',
        'no',
      ]
    : []
  const persistence = opts.persist
    ? // `npm start`: counters survive a restart, losing at most about a second of writes.
      ['--appendonly', 'yes', '--appendfsync', 'everysec']
    : // Tests: a throwaway store, nothing written to disk.
      ['--appendonly', 'no']
  return [
    '--port',
    String(opts.port),
    '--bind',
    '127.0.0.1',
    '--dir',
    opts.dataDir,
    '--daemonize',
    'no',
    // Logs go to stdout, which is redirected to redis.log in the data dir.
    '--logfile',
    '',
    // No RDB snapshots in either mode: the AOF is the persistence when there is any.
    '--save',
    '',
    ...persistence,
    ...tls,
  ]
}

export function redisUrl(port: number): string {
  return `redis://127.0.0.1:${port}`
}

/** The TLS port, by the host name its certificate carries. */
export function redisTlsUrl(port: number): string {
  return `rediss://localhost:${port}`
}
