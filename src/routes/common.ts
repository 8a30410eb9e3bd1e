/** Schemas shared by several routes, for validation and the OpenAPI document. */
import { Type } from 'typebox'

/** A schema, or null. */
export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])

const ValidationIssueSchema = Type.Object({
  loc: Type.Array(Type.Union([Type.String(), Type.Integer()])),
  msg: Type.String(),
  type: Type.String(),
  ctx: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
})

/** Printable text for a filter or an id: no control characters (PostgreSQL cannot even hold a NUL). */
export const NO_CONTROLS = '^[^\\u0000-\\u001f\\u007f]*$'

/** Where a page starts: 0 to a billion (past the end is an empty page, never an error). */
export const Offset = Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0, description: 'Items to skip (0 to 1,000,000,000)' })

/** An audit sequence number as a paging cursor: up to 2^53 − 1. */
export const SeqCursor = (description: string, minimum: number) => Type.Integer({ minimum, maximum: Number.MAX_SAFE_INTEGER, description })

export const ErrorResponse = Type.Object(
  {
    detail: Type.Union([Type.String(), Type.Array(ValidationIssueSchema)]),
    code: Type.String({ description: 'Stable machine-readable error code, e.g. invalid_api_key' }),
    request_id: Type.String(),
  },
  { description: 'Every error answer has this shape.' },
)

/** Error answers every protected route can give, for the OpenAPI document. */
export const protectedErrors = {
  401: { ...ErrorResponse, description: 'No API key (`missing_api_key`)' },
  403: { ...ErrorResponse, description: 'Invalid, revoked or expired key (`invalid_api_key`), or missing scope' },
}
