import { chmod, chown, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ensureTools } from './install-tools.js'
import { findLeftoverProcesses } from './leftover-processes.js'
import { type Log, stderrLog } from './log.js'
import { ManagedServer, type ServerSpec } from './managed-server.js'
import {
  initdbArgs,
  POSTGRES_CONF_FILE,
  POSTGRES_DATABASE,
  POSTGRES_INCLUDE_LINE,
  POSTGRES_SUPERUSER,
  POSTGRES_TLS_FILES,
  postgresConf,
  postgresTlsUrl,
  postgresUrl,
} from './postgres-config.js'
import { signalTree } from './process-tree.js'
import { runChecked, runCommand } from './run-command.js'
import { makeAncestorsSearchable } from './searchable-path.js'
import { toolPath } from './system-tools.js'
import { isRoot, lookupUser, type SystemUser } from './system-user.js'
import type { TlsMaterial } from './tls-material.js'
import type { PostgresServer } from './types.js'
import { sleep } from './wait.js'

export interface PostgresOptions {
  dataDir: string
  port: number
  /** Serve TLS too, with this certificate (tls-material.ts). */
  tls?: TlsMaterial
  log?: Log
}

const LOG_FILE = 'postgres.log'

class PostgresProcess extends ManagedServer implements PostgresServer {
  constructor(
    spec: ServerSpec,
    readonly url: string,
    readonly tlsUrl: string | undefined,
  ) {
    super(spec)
  }
}

/** Starts PostgreSQL on 127.0.0.1:port with its data in dataDir (initialised on first use). */
export async function startPostgres(opts: PostgresOptions): Promise<PostgresServer> {
  const log = opts.log ?? stderrLog
  await ensureTools(['postgres'], log)
  const binDir = toolPath('postgres')
  const dataDir = resolve(opts.dataDir)
  const { port, tls } = opts
  const user = await serverUser()

  const env = withoutLibpqVariables(process.env)
  const server = new PostgresProcess(
    {
      name: 'postgres',
      logFile: join(dataDir, LOG_FILE),
      ports: [{ port, purpose: 'port' }],
      prepare: async () => {
        await prepareDataDir(dataDir, user, log)
        await initdbOnce(binDir, dataDir, user, log)
        if (tls) {
          // Postgres reads its key only when its own user owns it and no one else may read it.
          await copyOwnedFile(tls.certFile, join(dataDir, POSTGRES_TLS_FILES.cert), user)
          await copyOwnedFile(tls.keyFile, join(dataDir, POSTGRES_TLS_FILES.key), user)
        }
        await writeOwnedFile(
          join(dataDir, POSTGRES_CONF_FILE),
          postgresConf({ dataDir, port, tls: tls !== undefined }),
          user,
        )
        await clearCrashedRun(dataDir, log)
      },
      // Spawned directly (not through pg_ctl or runuser), so our pid is the postmaster's own.
      command: join(binDir, 'postgres'),
      args: ['-D', dataDir],
      cwd: dataDir,
      env,
      user,
      isReady: () => pgIsReady(binDir, port, env),
      afterReady: () => createDatabaseIfMissing(binDir, port, env),
      // SIGINT is Postgres's "fast" shutdown: roll back open transactions, checkpoint, exit.
      stopSignal: 'SIGINT',
      startTimeoutMs: 60_000,
      log,
    },
    postgresUrl(port),
    tls ? postgresTlsUrl(port, tls.caFile) : undefined,
  )
  await server.start()
  return server
}

/** Postgres refuses to run as root; as root we run it as the `postgres` user the Debian package creates. */
async function serverUser(): Promise<SystemUser | undefined> {
  if (!isRoot()) return undefined
  const user = await lookupUser('postgres')
  if (!user) {
    throw new Error(
      'PostgreSQL cannot run as root and there is no `postgres` user; create one: useradd --system postgres',
    )
  }
  return user
}

async function prepareDataDir(dataDir: string, user: SystemUser | undefined, log: Log): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  if (user) {
    await chown(dataDir, user.uid, user.gid)
    await makeAncestorsSearchable(dataDir, log)
  }
  // Postgres insists on 0700 (or 0750) for its data dir, whatever umask created it.
  await chmod(dataDir, 0o700)
}

async function initdbOnce(
  binDir: string,
  dataDir: string,
  user: SystemUser | undefined,
  log: Log,
): Promise<void> {
  const entries = await readdir(dataDir)
  if (entries.includes('PG_VERSION')) return
  const unexpected = entries.filter((entry) => entry !== LOG_FILE)
  if (unexpected.length > 0) {
    throw new Error(
      `${dataDir} is neither empty nor a Postgres data directory (contains ${unexpected.join(', ')})`,
    )
  }
  log(`initialising a Postgres cluster in ${dataDir}`)
  await runChecked(join(binDir, 'initdb'), initdbArgs(dataDir), {
    cwd: dataDir,
    env: withoutLibpqVariables(process.env),
    user,
    timeoutMs: 120_000,
  })
  const confPath = join(dataDir, 'postgresql.conf')
  const conf = await readFile(confPath, 'utf8')
  if (!conf.includes(POSTGRES_INCLUDE_LINE)) await writeFile(confPath, `${conf}\n${POSTGRES_INCLUDE_LINE}\n`)
}

/**
 * Clears what a crashed run leaves behind, which Postgres does not clear itself:
 * - backends that outlived a SIGKILLed postmaster (they have their own process groups, and a busy one
 *   runs on until its query ends) still hold the shared memory, and Postgres refuses to start;
 * - a postmaster.pid whose pid now belongs to another process of the same user makes it refuse as well.
 * A postmaster.pid naming a live postgres is a real conflict and stays an error.
 */
async function clearCrashedRun(dataDir: string, log: Log): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid')
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0) return
  const command = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim()
  if (command === 'postgres' || command === 'postmaster') {
    throw new Error(
      `a postgres (pid ${pid}) is still running on ${dataDir}, probably left over from a killed run; stop it with: kill ${pid}`,
    )
  }
  if (command !== '') {
    log(`removing stale ${pidFile} (pid ${pid} now belongs to ${command})`)
    await rm(pidFile, { force: true })
  }
  const orphans = (await findLeftoverProcesses(dataDir, [])).filter((p) => p.command.startsWith('postgres'))
  if (orphans.length === 0) return
  log(`killing ${orphans.length} Postgres process(es) left over from a crashed postmaster`)
  for (const orphan of orphans) signalTree(orphan.pid, 'SIGKILL')
  const deadline = Date.now() + 5_000
  while (
    Date.now() < deadline &&
    (await findLeftoverProcesses(dataDir, [])).some((p) => p.command.startsWith('postgres'))
  ) {
    await sleep(50)
  }
}

async function pgIsReady(binDir: string, port: number, env: NodeJS.ProcessEnv): Promise<boolean> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-U', POSTGRES_SUPERUSER, '-d', 'postgres', '-t', '2']
  const result = await runCommand(join(binDir, 'pg_isready'), args, { env, timeoutMs: 5_000 })
  return result.code === 0
}

async function createDatabaseIfMissing(binDir: string, port: number, env: NodeJS.ProcessEnv): Promise<void> {
  const psql = (sql: string) =>
    runChecked(
      join(binDir, 'psql'),
      ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port)].concat([
        '-U',
        POSTGRES_SUPERUSER,
        '-d',
        'postgres',
        '-c',
        sql,
      ]),
      { env, timeoutMs: 30_000 },
    )
  const exists = await psql(`select 1 from pg_database where datname = '${POSTGRES_DATABASE}'`)
  if (exists.trim() !== '1') await psql(`create database ${POSTGRES_DATABASE}`)
}

async function copyOwnedFile(from: string, to: string, user: SystemUser | undefined): Promise<void> {
  await copyFile(from, to)
  await chmod(to, 0o600)
  if (user) await chown(to, user.uid, user.gid)
}

async function writeOwnedFile(path: string, content: string, user: SystemUser | undefined): Promise<void> {
  await writeFile(path, content, { mode: 0o600 })
  if (user) await chown(path, user.uid, user.gid)
}

/** PGHOST, PGPORT and friends in the caller's environment must not redirect our own psql and pg_isready. */
function withoutLibpqVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith('PG')))
}
