/**
 * The verdict on one job body: parsed (UTF-8, secure JSON) and validated against the route's
 * schema, its texts packed. Run by the job-body worker for large bodies and on the main thread
 * for small ones (`body-parser.ts`).
 */
import type { SchemaError } from '../http/validation-errors.js'
import { bodyAjv } from '../http/ajv.js'
import { parseJson } from '../http/json.js'
import { AppError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import type { SegmentedBody } from '../http/segmented-body.js'
import { packTexts, type PackedBody } from './submission.js'

/** The verdict on one body. */
export type BodyVerdict =
  | { kind: 'valid'; body: PackedBody }
  | { kind: 'unparsable'; code: ErrorCode; message: string }
  | { kind: 'invalid'; errors: SchemaError[] }

export const compileBodySchema = (schema: object) => bodyAjv().compile(schema)

export function judge(validate: ReturnType<typeof compileBodySchema>, raw: SegmentedBody): BodyVerdict {
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
