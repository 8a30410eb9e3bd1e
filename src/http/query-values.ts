/**
 * A route's query checked as FastAPI checks it, before its schema:
 * - a parameter given more than once counts once, with its last value (`?text=a&text=b` is
 *   `b`), unless the schema declares a list, which keeps them all;
 * - a query holding escapes that are not UTF-8 (`http/query-string.ts`) is `400
 *   invalid_encoding`, as a body is.
 */
import type { ValidateFunction } from 'ajv'
import { AppError, ErrorCode } from '../errors.js'
import { isUndecodable } from './query-string.js'

interface SchemaNode {
  type?: string | string[]
  anyOf?: SchemaNode[]
  oneOf?: SchemaNode[]
  properties?: Record<string, SchemaNode>
}

function takesList(schema: SchemaNode): boolean {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type]
  return types.includes('array') || [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])].some(takesList)
}

/** The names of the query parameters that take one value. */
function singleValued(schema: SchemaNode): string[] {
  return Object.entries(schema.properties ?? {})
    .filter(([, property]) => !takesList(property))
    .map(([name]) => name)
}

/** What Fastify expects of a validator: `true`, `false` with `errors`, or `{ error }`. */
type QueryValidator = ((query: unknown) => boolean | { error: Error }) & { errors?: ValidateFunction['errors'] }

/** Wraps the schema's compiled validator for a route's query string. */
export function queryValidator(schema: unknown, validate: ValidateFunction): QueryValidator {
  const single = singleValued(schema as SchemaNode)
  const check: QueryValidator = (query) => {
    if (isUndecodable(query)) return { error: new AppError(ErrorCode.InvalidEncoding, 'The query string is not valid UTF-8 once decoded') }
    if (typeof query === 'object' && query !== null) {
      const values = query as Record<string, unknown>
      for (const name of single) {
        const value = values[name]
        if (Array.isArray(value)) values[name] = value.at(-1)
      }
    }
    const valid = validate(query)
    check.errors = validate.errors
    return valid
  }
  return check
}
