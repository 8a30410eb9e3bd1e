/**
 * The job-body worker thread: parses a `POST /v1/jobs` body and validates it against the
 * route's own schema (the same Ajv set-up as the route would use), then packs the texts into
 * one buffer that moves to the main thread. A 32 MB body takes the better part of a second to
 * parse and check; here, that second is not taken from every other request.
 */
import type { SchemaError } from '../http/validation-errors.js'
import { bodyAjv } from '../http/ajv.js'
import { parseJson } from '../http/json.js'
import type { SegmentedBody } from '../http/segmented-body.js'
import { AppError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import { serveCalls } from '../lib/worker-calls.js'
import { packTexts, type PackedBody } from './submission.js'

export interface BodyWorkerData {
  /** The route's body schema, as JSON. */
  schema: object
}

/** The worker's verdict on one body. */
export type BodyVerdict =
  | { kind: 'valid'; body: PackedBody }
  | { kind: 'unparsable'; code: ErrorCode; message: string }
  | { kind: 'invalid'; errors: SchemaError[] }

function judge(validate: ReturnType<ReturnType<typeof bodyAjv>['compile']>, raw: SegmentedBody): BodyVerdict {
  let body: unknown
  try {
    body = parseJson(Buffer.concat(raw.segments, raw.length))
  } catch (error) {
    if (!(error instanceof AppError)) throw error
    return { kind: 'unparsable', code: error.code, message: error.message }
  }
  if (!validate(body ?? null)) return { kind: 'invalid', errors: (validate.errors ?? []) as SchemaError[] }
  const { texts, model } = body as { texts: string[]; model?: string }
  return { kind: 'valid', body: packTexts(texts, model) }
}

await serveCalls<SegmentedBody, BodyVerdict, null>((data) => {
  const validate = bodyAjv().compile((data as BodyWorkerData).schema)
  return {
    info: null,
    handle(raw) {
      const verdict = judge(validate, raw)
      return {
        answer: verdict,
        transfer: verdict.kind === 'valid' ? [verdict.body.utf8.buffer as ArrayBuffer, verdict.body.ends.buffer as ArrayBuffer] : [],
      }
    },
  }
})
