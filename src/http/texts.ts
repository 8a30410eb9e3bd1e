/**
 * Checks on the texts clients send for prediction, shared by the predict and jobs routes.
 * They all run before the rate limiter, so a malformed request costs nothing:
 * - blank texts are refused by schema validation (the `x-not-blank` keyword registered in
 *   `plugins/validation.ts`): `400 Empty text provided` for a single text, as the reference
 *   service answers, and a 422 naming the item for a batch;
 * - a text missing from both the query and the body, or given twice, by `requireOneText`, a
 *   pre-validation hook.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errors } from '../errors.js'

/** The schema keyword that refuses blank strings. */
export const NOT_BLANK = 'x-not-blank'

// Whitespace, control and format characters (zero-width space, BOM, ...) carry no content.
const BLANK = /^[\s\p{Cc}\p{Cf}\p{Cs}]*$/u

/** True when the text has nothing to classify. */
export function isBlank(text: string): boolean {
  return BLANK.test(text)
}

interface RawInput {
  query: { text?: unknown }
  body: { text?: unknown; texts?: unknown } | undefined | null
}

/**
 * Pre-validation: exactly one of `?text=`, `{"text"}` and `{"texts"}`. A request with no body
 * at all (the reference service's `?text=` form) gets an empty one, so that body validation
 * applies to the body alone.
 */
export function requireOneText(request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
  request.body ??= {}
  const { query, body } = request as unknown as RawInput
  const inBody = typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}
  if (inBody.texts !== undefined) {
    if (inBody.text !== undefined || query.text !== undefined) {
      return done(errors.validation([{ loc: ['body', 'texts'], msg: 'Give either text or texts, not both', type: 'value_error' }]))
    }
    return done()
  }
  if (query.text !== undefined && inBody.text !== undefined) {
    return done(
      errors.validation([{ loc: ['body', 'text'], msg: 'Give text in the query string or in the body, not both', type: 'value_error' }]),
    )
  }
  // A body that is not an object is left to schema validation (422 dict_type).
  if (query.text === undefined && inBody.text === undefined && body === inBody) {
    return done(errors.validation([{ loc: ['query', 'text'], msg: 'Field required', type: 'missing' }]))
  }
  done()
}
