/**
 * The Ajv instances schemas are compiled with, shared by the validation plugin and by the
 * job-body worker (which must judge a body exactly as the route would): query strings, path
 * parameters and headers are text by nature and are coerced (`?limit=10` is the integer 10);
 * JSON bodies are not, so `{"text": 5}` is a 422 as in FastAPI rather than the string "5".
 */
import { Ajv } from 'ajv'
import type { Options } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { NOT_BLANK, isBlank } from './texts.js'

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

/** For JSON bodies: no type coercion. */
export const bodyAjv = (): Ajv => withKeywords(new Ajv({ ...common, coerceTypes: false }))

/** For query strings, path parameters and headers: text coerced to the schema's types. */
export const paramsAjv = (): Ajv => withKeywords(new Ajv({ ...common, coerceTypes: 'array' }))
