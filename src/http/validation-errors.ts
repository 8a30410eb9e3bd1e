/**
 * Translates JSON-schema validation errors (Ajv) into FastAPI's 422 detail list, so that
 * clients written for FastAPI read infergate's validation errors unchanged.
 */
import type { ValidationIssue } from '../errors.js'
import { NOT_BLANK } from './texts.js'

/** The subset of an Ajv error that is read here. */
export interface SchemaError {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message?: string
}

const PART_NAMES: Record<string, string> = { querystring: 'query', params: 'path', headers: 'header', body: 'body' }

const TYPE_NAMES: Record<string, [string, string]> = {
  string: ['string_type', 'Input should be a valid string'],
  integer: ['int_type', 'Input should be a valid integer'],
  number: ['float_type', 'Input should be a valid number'],
  boolean: ['bool_type', 'Input should be a valid boolean'],
  array: ['list_type', 'Input should be a valid list'],
  object: ['dict_type', 'Input should be a valid dictionary or object'],
}

function pathOf(instancePath: string): (string | number)[] {
  if (instancePath === '') return []
  return instancePath
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment))
}

function describe(error: SchemaError): Omit<ValidationIssue, 'loc'> {
  const p = error.params
  switch (error.keyword) {
    case 'required':
      return { type: 'missing', msg: 'Field required' }
    case 'type': {
      const [type, msg] = TYPE_NAMES[String(p.type).split(',')[0]!] ?? ['type_error', `Input should be ${String(p.type)}`]
      return { type, msg }
    }
    case 'maxLength':
      return { type: 'string_too_long', msg: `String should have at most ${String(p.limit)} characters`, ctx: { max_length: p.limit } }
    case 'minLength':
      return { type: 'string_too_short', msg: `String should have at least ${String(p.limit)} characters`, ctx: { min_length: p.limit } }
    case 'maxItems':
      return { type: 'too_long', msg: `List should have at most ${String(p.limit)} items`, ctx: { max_length: p.limit } }
    case 'minItems':
      return { type: 'too_short', msg: `List should have at least ${String(p.limit)} items`, ctx: { min_length: p.limit } }
    case 'maximum':
      return { type: 'less_than_equal', msg: `Input should be less than or equal to ${String(p.limit)}`, ctx: { le: p.limit } }
    case 'minimum':
      return { type: 'greater_than_equal', msg: `Input should be greater than or equal to ${String(p.limit)}`, ctx: { ge: p.limit } }
    case NOT_BLANK:
      return { type: 'value_error', msg: 'Empty text provided' }
    case 'additionalProperties':
      return { type: 'extra_forbidden', msg: 'Extra inputs are not permitted' }
    case 'pattern':
      return { type: 'string_pattern_mismatch', msg: `String should match pattern '${String(p.pattern)}'` }
    case 'enum':
    case 'const':
      return { type: 'enum', msg: `Input should be ${JSON.stringify(p.allowedValues ?? p.allowedValue)}` }
    default:
      return { type: 'value_error', msg: error.message ?? 'Invalid value' }
  }
}

/** FastAPI-style issues for the errors of one request part (`body`, `querystring`, ...). */
export function validationIssues(errors: SchemaError[], context: string | undefined): ValidationIssue[] {
  const part = PART_NAMES[context ?? 'body'] ?? context ?? 'body'
  return errors.map((error) => {
    const loc = [part, ...pathOf(error.instancePath)]
    if (error.keyword === 'required') loc.push(String(error.params.missingProperty))
    if (error.keyword === 'additionalProperties') loc.push(String(error.params.additionalProperty))
    return { loc, ...describe(error) }
  })
}
