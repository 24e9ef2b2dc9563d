// The bench's command line: every option, its help text, and the numbers checked before anything starts.
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SERVICE_NODE_OPTIONS } from './node-options.js'

export interface BenchOptions {
  seconds: number
  connections: number
  ceilingConnections: number[]
  drainClicks: number
  e2eRate: number
  batchRate: number
  batchSize: number
  readRate: number
  searchSteps: number
  searchSeconds: number
  /** (f) length of each events step; 0 when --skip-events. */
  eventsSeconds: number
  out: string
  /** Node flags for the three services: V8 CPU profiles into <out>/profiles/ when asked for. */
  profArgs: string[]
  nodeOptions: string
  /** The environment every measured Node process gets on top of its own. */
  nodeEnv: Record<string, string>
  /** The options as a command line, for the report. */
  settings: string
}

const HELP = `npm run bench -- [options]

Starts its own Kafka, PostgreSQL and Redis and the built services, measures, prints a table and writes it
with every raw figure to <out>/bench-<time>.{json,md}, a chart of the run to <out>/bench-<time>.svg, and
<out>/latest.{md,svg}.

  --seconds <n>              length of each fixed phase: (a) and the first step of each (b) (default 10)
  --connections <n>          load generator connections for (b) (batches: at most 16) (default 32)
  --ceiling-connections <l>  (a) is measured at each of these connection counts (default 32,256)
  --drain-clicks <n>         clicks on the topic before the worker starts, for (c) (default 200000)
  --e2e-rate <n>             (b) single clicks offered per second: the target, and the first step
                             of the rate search (default 10000)
  --batch-rate <n>           (b) batched clicks offered per second, likewise (default 50000)
  --batch-size <n>           clicks per POST /ads/clicks in (b) batched (default 100)
  --read-rate <n>            (d) reads per second of each read route during (b) single (default 100)
  --search-steps <n>         (b) rate search: at most this many rates tried after the target, when the
                             target is not sustained (acknowledged >= 98% of offered and every click
                             visible in GET /ads/analytics within 1 s at p99); 0 = target only (default 3)
  --search-seconds <n>       length of each search step after the first (default 5)
  --events-seconds <n>       (f) video events: length of each of its three loads, the pixel ceiling on
                             ingest-api, the same on the bare server, and end to end (default 5;
                             the phase takes about 4x this plus the worker's catch-up)
  --skip-events              no (f)
  --out <dir>                where the results go (default bench-results)
  --cpu-prof                 the services write V8 CPU profiles to <out>/profiles/ when they stop
  --node-options=<flags>     NODE_OPTIONS for the three services and the bare server (with "=", as
                             the value starts with a dash), e.g. --node-options=--max-semi-space-size=2
                             to see what a V8 heap setting costs or saves; --node-options= for
                             none (default: the images' own, ${SERVICE_NODE_OPTIONS})
`

/** The options from argv; prints the help and exits 0 for --help, exits 2 naming a wrong number. */
export function parseBenchOptions(argv: string[], root: string): BenchOptions {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '32' },
      'ceiling-connections': { type: 'string', default: '32,256' },
      'drain-clicks': { type: 'string', default: '200000' },
      'e2e-rate': { type: 'string', default: '10000' },
      'batch-rate': { type: 'string', default: '50000' },
      'batch-size': { type: 'string', default: '100' },
      'read-rate': { type: 'string', default: '100' },
      'search-steps': { type: 'string', default: '3' },
      'search-seconds': { type: 'string', default: '5' },
      'events-seconds': { type: 'string', default: '5' },
      'skip-events': { type: 'boolean' },
      out: { type: 'string', default: join(root, 'bench-results') },
      'cpu-prof': { type: 'boolean' },
      'node-options': { type: 'string', default: SERVICE_NODE_OPTIONS },
      help: { type: 'boolean' },
    },
  })
  if (args.help) {
    process.stdout.write(HELP)
    process.exit(0)
  }
  /** A numeric option, or exit with a message naming it. */
  const numberArg = (name: keyof typeof args, min: number, integer = true): number => {
    const text = String(args[name])
    const n = Number(text)
    if (text.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      process.stderr.write(
        `bench: --${name} must be ${integer ? 'a whole number' : 'a number'} >= ${min}, got "${text}"\n`,
      )
      process.exit(2)
    }
    return n
  }
  const o = {
    seconds: numberArg('seconds', 0.1, false),
    connections: numberArg('connections', 1),
    ceilingConnections: args['ceiling-connections']
      .split(',')
      .map(Number)
      .filter((n) => n > 0),
    drainClicks: numberArg('drain-clicks', 1),
    e2eRate: numberArg('e2e-rate', 1, false),
    batchRate: numberArg('batch-rate', 1, false),
    batchSize: numberArg('batch-size', 1),
    readRate: numberArg('read-rate', 0, false),
    searchSteps: numberArg('search-steps', 0),
    searchSeconds: numberArg('search-seconds', 0.1, false),
    eventsSeconds: args['skip-events'] ? 0 : numberArg('events-seconds', 0.1, false),
    out: args.out,
    profArgs: args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(args.out, 'profiles')}`] : [],
    nodeOptions: args['node-options'].trim(),
  }
  return {
    ...o,
    nodeEnv: o.nodeOptions ? { NODE_OPTIONS: o.nodeOptions } : {},
    settings: `--seconds ${o.seconds} --connections ${o.connections} --ceiling-connections ${o.ceilingConnections.join(',')} --drain-clicks ${o.drainClicks} --e2e-rate ${o.e2eRate} --batch-rate ${o.batchRate} --batch-size ${o.batchSize} --read-rate ${o.readRate} --search-steps ${o.searchSteps} --search-seconds ${o.searchSeconds}${o.eventsSeconds > 0 ? ` --events-seconds ${o.eventsSeconds}` : ' --skip-events'}${o.nodeOptions ? ` --node-options="${o.nodeOptions}"` : ''}`,
  }
}
