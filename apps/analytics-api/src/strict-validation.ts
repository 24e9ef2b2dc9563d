import { PATTERN_MEANINGS } from '@adtrack/contracts'
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'

type SchemaError = FastifySchemaValidationError & { schemaPath: string }

/**
 * Validates a request part exactly as its TypeBox schema says, for write endpoints: no type coercion
 * ("30" is not a number, 1 is not a string), no silent removal of unknown properties (they are refused),
 * no defaults filled in. Fastify's default Ajv does all three, which reads need (`?limit=10` is a
 * string), so this compiler is set only in the scope of the admin routes.
 *
 * Like Fastify's Ajv it reports the first problem, phrased for a person: an unknown property by name, a
 * union of literals by its allowed values, and a failed pattern or format by what the pattern means
 * (contracts' PATTERN_MEANINGS).
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema }) => {
  const validator = Compile(schema as TSchema)
  return (value: unknown) => {
    if (validator.Check(value)) return { value }
    return { error: [firstProblem(schema as TSchema, [...validator.Errors(value)] as SchemaError[])] }
  }
}

function firstProblem(root: TSchema, all: SchemaError[]): FastifySchemaValidationError {
  const errors = narrowUnions(all)
  // Shallowest first: "body must be object" before anything about its properties.
  const first =
    errors.find((e) => e.keyword === 'type' && e.instancePath === '') ??
    errors.find((e) => e.keyword === 'additionalProperties') ??
    errors.find((e) => e.keyword !== 'boolean' && !isUnionBranch(e, errors))
  if (!first)
    return { keyword: 'invalid', instancePath: '', schemaPath: '#', params: {}, message: 'is invalid' }
  if (first.keyword === 'additionalProperties') {
    const [name] = (first.params as { additionalProperties?: string[] }).additionalProperties ?? []
    return { ...first, instancePath: `${first.instancePath}/${name}`, message: 'is not an allowed property' }
  }
  if (first.keyword === 'anyOf') {
    const branches = (schemaAt(root, first.schemaPath)?.anyOf ?? []) as { const?: unknown }[]
    const allowed = branches.map((branch) => branch.const)
    if (allowed.length > 0 && allowed.every((v) => v !== undefined)) {
      return { ...first, message: `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}` }
    }
  }
  if (first.keyword === 'minProperties') {
    const { limit } = first.params as { limit: number }
    return { ...first, message: `must have at least ${limit} propert${limit === 1 ? 'y' : 'ies'}` }
  }
  // A pattern (or the format beside it) says little to a person; say what it means when it is known.
  const pattern = schemaAt(root, first.schemaPath)?.pattern
  const meaning = typeof pattern === 'string' ? PATTERN_MEANINGS[pattern] : undefined
  if ((first.keyword === 'pattern' || first.keyword === 'format') && meaning) {
    return { ...first, message: meaning }
  }
  return first
}

/**
 * A union of types (an object or null) reports "must match a schema in anyOf" and every branch's errors.
 * When the value has the type of exactly one branch, that branch's errors are the problem ("media/width
 * must be >= 1"), so the union error and the other branches' are dropped. When it has none of their
 * types, the union error says which types it may have. Unions of constants are left to firstProblem.
 */
function narrowUnions(errors: SchemaError[]): SchemaError[] {
  let narrowed = errors
  for (const union of errors.filter((e) => e.keyword === 'anyOf')) {
    const branchOf = (e: SchemaError) => e.schemaPath.slice(`${union.schemaPath}/anyOf/`.length).split('/')[0]
    const inUnion = narrowed.filter((e) => e.schemaPath.startsWith(`${union.schemaPath}/anyOf/`))
    const branches = new Set(inUnion.map(branchOf))
    const wrongType = inUnion.filter(
      (e) =>
        e.keyword === 'type' &&
        e.instancePath === union.instancePath &&
        e.schemaPath === `${union.schemaPath}/anyOf/${branchOf(e)}`,
    )
    if (wrongType.length === 0) continue
    if (wrongType.length === branches.size) {
      const types = wrongType.map((e) => (e.params as { type?: unknown }).type).filter((t) => t !== undefined)
      const message = `must be ${types.join(' or ')}`
      narrowed = narrowed.map((e) => (e === union ? { ...e, message } : e))
      continue
    }
    if (branches.size - wrongType.length !== 1) continue
    const wrongBranches = new Set(wrongType.map(branchOf))
    narrowed = narrowed.filter((e) => e !== union && !(inUnion.includes(e) && wrongBranches.has(branchOf(e))))
  }
  return narrowed
}

/** An error inside one branch of an anyOf that itself failed: the anyOf error says it better. */
function isUnionBranch(error: SchemaError, errors: SchemaError[]): boolean {
  return errors.some((e) => e.keyword === 'anyOf' && error.schemaPath.startsWith(`${e.schemaPath}/anyOf/`))
}

/** The subschema a TypeBox error's schemaPath (`#/properties/x`) points at. */
function schemaAt(root: TSchema, pointer: string): Record<string, unknown> | undefined {
  let node: unknown = root
  for (const part of pointer.replace(/^#\/?/, '').split('/').filter(Boolean)) {
    if (typeof node !== 'object' || node === null) return undefined
    node = (node as Record<string, unknown>)[part.replaceAll('~1', '/').replaceAll('~0', '~')]
  }
  return typeof node === 'object' && node !== null ? (node as Record<string, unknown>) : undefined
}
