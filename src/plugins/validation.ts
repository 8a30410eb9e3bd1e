/**
 * Schema validation with two Ajv instances: query strings, path parameters and headers are
 * text by nature and are coerced (`?limit=10` is the integer 10); JSON bodies are not, so
 * `{"text": 5}` is a 422 as in FastAPI rather than the string "5". A query string is first
 * checked as FastAPI checks it (`http/query-values.ts`: the last of repeated values counts).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Ajv } from 'ajv'
import type { Options } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { queryValidator } from '../http/query-values.js'
import { NOT_BLANK, isBlank } from '../http/texts.js'

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

const common: Options = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false }

function withKeywords(ajv: Ajv): Ajv {
  addFormats(ajv)
  ajv.addKeyword({
    keyword: NOT_BLANK,
    type: 'string',
    schemaType: 'boolean',
    errors: false,
    validate: (on: boolean, text: string) => !on || !isBlank(text),
  })
  return ajv
}

async function validation(app: FastifyInstance): Promise<void> {
  const bodies = withKeywords(new Ajv({ ...common, coerceTypes: false }))
  const params = withKeywords(new Ajv({ ...common, coerceTypes: 'array' }))
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (httpPart === 'querystring') return queryValidator(schema, params.compile(schema))
    return (httpPart === 'body' ? bodies : params).compile(schema)
  })
}

export default fp(validation, { name: 'validation' })
