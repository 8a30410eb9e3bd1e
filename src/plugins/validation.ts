/**
 * Schema validation with the two Ajv instances of `http/ajv.ts` (bodies not coerced, the rest
 * coerced). A query string is first checked as FastAPI checks it (`http/query-values.ts`: the
 * last of repeated values counts). A body schema marked `x-validated-by-parser` lets through
 * the bodies its parser validated already (`http/validated-body.ts`) and judges anything else
 * as usual.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { ValidateFunction } from 'ajv'
import { bodyAjv, paramsAjv } from '../http/ajv.js'
import { queryValidator } from '../http/query-values.js'
import { VALIDATED_BY_PARSER, ValidatedBody } from '../http/validated-body.js'

function acceptingValidated(validate: ValidateFunction): ValidateFunction {
  const check = ((data: unknown) => {
    if (data instanceof ValidatedBody) return true
    const valid = validate(data)
    check.errors = validate.errors
    return valid
  }) as ValidateFunction
  return check
}

async function validation(app: FastifyInstance): Promise<void> {
  const bodies = bodyAjv()
  const params = paramsAjv()
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (httpPart === 'querystring') return queryValidator(schema, params.compile(schema))
    if (httpPart !== 'body') return params.compile(schema)
    const validate = bodies.compile(schema)
    return (schema as Record<string, unknown>)[VALIDATED_BY_PARSER] === true ? acceptingValidated(validate) : validate
  })
}

export default fp(validation, { name: 'validation' })
