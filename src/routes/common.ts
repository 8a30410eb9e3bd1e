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
