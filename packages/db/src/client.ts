import postgres from 'postgres'

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

/** A postgres.js pool with the settings every service uses. */
export function createSql(url: string, opts: DatabaseOptions = {}): Sql {
  return postgres(url, {
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
