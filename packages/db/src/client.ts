import postgres from 'postgres'

export type Sql = postgres.Sql

/** A postgres.js pool with the settings every service uses. */
export function createSql(url: string, opts: { max?: number; applicationName?: string } = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: opts.applicationName ?? 'ad-tracking' },
  })
}
