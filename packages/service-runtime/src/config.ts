import envSchema from 'env-schema'
import type { Type } from 'typebox'

interface AjvError {
  instancePath: string
  message?: string
  params: { missingProperty?: string; allowedValues?: unknown[] }
}

/** Thrown when the environment does not fit a service's schema; its message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/**
 * Validates an environment against a service's TypeBox schema, applying defaults and coercing numbers.
 * NOTE: this is env-schema, the validator inside @fastify/env, called directly: the HTTP services need
 * their config before the Fastify instance exists (logger level, trustProxy, body limit and timeouts are
 * constructor options), and the worker has no Fastify instance for @fastify/env to decorate.
 */
export function loadConfig<S extends Type.TSchema>(
  schema: S,
  env: Record<string, string | undefined>,
): Type.Static<S> {
  try {
    // env-schema mutates the schema it is given; hand it a copy.
    return envSchema({ schema: structuredClone(schema), data: env, env: false }) as Type.Static<S>
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors
    if (!errors) throw err
    throw new ConfigError(errors.map(describe))
  }
}

function describe(error: AjvError): string {
  if (error.params.missingProperty) return `${error.params.missingProperty} is required`
  const name = error.instancePath.replace(/^\//, '').split('/')[0] || '(environment)'
  return `${name} ${error.message ?? 'is invalid'}`
}

/**
 * loadConfig for a service's entry point: on a bad environment, prints every problem with the service's
 * name and exits 1, since nothing can run on a wrong configuration. `check` runs what a schema cannot
 * say (duplicate key ids, a development key in production) and throws a ConfigError to refuse.
 */
export function loadConfigOrExit<S extends Type.TSchema>(
  service: string,
  schema: S,
  env: Record<string, string | undefined>,
  check?: (config: Type.Static<S>) => void,
): Type.Static<S> {
  try {
    const config = loadConfig(schema, env)
    check?.(config)
    return config
  } catch (err) {
    process.stderr.write(`${service}: ${err instanceof ConfigError ? err.message : String(err)}\n`)
    process.exit(1)
  }
}
