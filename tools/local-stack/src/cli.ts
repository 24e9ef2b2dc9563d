#!/usr/bin/env node
// `npm start` (up) and `npm run stack` (deps): the whole system, or only its dependencies, on this machine.
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { StackSession } from './cli-session.js'
import { PORT_SETTINGS, readPorts, readTlsSetting, resolveDataDir } from './cli-settings.js'
import { onStopSignals } from './cli-signals.js'
import { findRepoRoot } from './repo-root.js'

const USAGE = `usage: node tools/local-stack/dist/cli.js [deps | up | --help]

  up     Kafka, Postgres and Redis; migrations and demo ads; ingest-api, click-worker and analytics-api;
         and the gateway in front of the two APIs (nginx with the Compose gateway's configuration,
         deploy/compose/nginx; logs in <data>/gateway). Ctrl-C stops everything in order.
  deps   only Kafka, Postgres and Redis (the default), for running the services yourself.

Data (databases, Kafka log, ingest-api's spool, logs) persists in <repo>/.data, or STACK_DATA_DIR.
Kafka and Postgres also listen with TLS (certificates from the stack's own CA in <data>/tls); with
STACK_TLS=true, \`up\` connects the services through TLS (Kafka SASL_SSL with SCRAM, Postgres verify-full).
Ports (environment variable, default):
${PORT_SETTINGS.map((s) => `  ${s.variable.padEnd(30)} ${String(s.fallback).padEnd(6)} ${s.purpose}`).join('\n')}
`

const say = (msg: string) => process.stdout.write(`[stack] ${msg}\n`)
const shout = (msg: string) => process.stderr.write(`[stack] ${msg}\n`)

async function main(): Promise<void> {
  const command = process.argv[2] ?? 'deps'
  if (['--help', '-h', 'help'].includes(command)) {
    process.stdout.write(USAGE)
    return
  }
  if (command !== 'up' && command !== 'deps') {
    process.stderr.write(`unknown command: ${command}\n\n${USAGE}`)
    process.exit(2)
  }

  let ports: ReturnType<typeof readPorts>
  let tls: boolean
  try {
    ports = readPorts(process.env)
    tls = readTlsSetting(process.env)
  } catch (err) {
    shout(`error: ${(err as Error).message}`)
    process.exit(1)
  }
  const repoRoot = findRepoRoot(dirname(fileURLToPath(import.meta.url)))
  const dataDir = resolveDataDir(process.env, repoRoot)
  const session = new StackSession({
    mode: command,
    repoRoot,
    dataDir,
    ports,
    tls,
    say,
    shout,
    print: (text) => process.stdout.write(text),
  })

  onStopSignals({
    stop: (signal) => {
      say(`${signal}: stopping (Ctrl-C again to force)`)
      session.shutdown().then(
        () => process.exit(0),
        (err: Error) => {
          shout(`error while stopping: ${err.message}`)
          process.exit(1)
        },
      )
    },
    force: () => {
      session.force()
      process.exit(1)
    },
  })

  try {
    await session.run()
  } catch (err) {
    // A stop signal arrived mid-start; its handler is already shutting down and will exit.
    if (session.stopping) return
    shout(`error: ${(err as Error).message}`)
    await session.shutdown()
    process.exit(1)
  }
}

await main()
