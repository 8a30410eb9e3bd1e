/**
 * The verdict on one job body: parsed (UTF-8, secure JSON) and validated against the route's
 * schema. Run by the job-body worker for large bodies and on the main thread for small ones
 * (`body-parser.ts`).
 */
import type { SchemaError } from '../http/validation-errors.js'
import { bodyAjv } from '../http/ajv.js'
import { parseJson } from '../http/json.js'
import { AppError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import type { SegmentedBody } from '../http/segmented-body.js'

/** A body that is not a valid job: the error the route's parser or schema would have raised. */
type BodyRefusal = { kind: 'unparsable'; code: ErrorCode; message: string } | { kind: 'invalid'; errors: SchemaError[] }

/** The verdict on one body; `T` is what a valid one yields. */
export type Verdict<T> = { kind: 'valid'; body: T } | BodyRefusal

export interface JobBody {
  texts: string[]
  model: string | undefined
}

export const compileBodySchema = (schema: object) => bodyAjv().compile(schema)

export function judge(validate: ReturnType<typeof compileBodySchema>, raw: SegmentedBody): Verdict<JobBody> {
  let body: unknown
  try {
    body = parseJson(Buffer.concat(raw.segments, raw.length))
  } catch (error) {
    if (!(error instanceof AppError)) throw error
    return { kind: 'unparsable', code: error.code, message: error.message }
  }
  if (!validate(body ?? null)) return { kind: 'invalid', errors: (validate.errors ?? []) as SchemaError[] }
  const { texts, model } = body as { texts: string[]; model?: string }
  // A lone surrogate becomes U+FFFD here, as UTF-8 (and so the store) can only hold it, so that
  // a job's text is the same string wherever it is read and whichever thread parsed it.
  return { kind: 'valid', body: { texts: texts.map((text) => text.toWellFormed()), model } }
}
