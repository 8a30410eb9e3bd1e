/**
 * OpenAI's error shape, for the OpenAI-compatible routes: `{"error": {"message", "type",
 * "param", "code"}}`, with the same statuses as everywhere else (401 no key, 403 refused key,
 * 429 + `Retry-After` over a limit), so that the OpenAI SDKs raise the right error class and
 * retry what they should. `code` is infergate's stable error code; `type` is OpenAI's family.
 */
import type { AppError } from '../errors.js'
import { ErrorCode } from '../errors.js'

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string }
  request_id: string
}

function typeOf(error: AppError): string {
  if (error.code === ErrorCode.QuotaExhausted) return 'insufficient_quota'
  if (error.statusCode === 401) return 'authentication_error'
  if (error.statusCode === 403) return 'permission_error'
  if (error.statusCode === 404) return 'not_found_error'
  if (error.statusCode === 429) return 'rate_limit_error'
  if (error.statusCode >= 500) return 'server_error'
  return 'invalid_request_error'
}

/** The body of an error answer on an OpenAI-compatible route. */
export function openAiErrorBody(error: AppError, requestId: string): OpenAiErrorBody {
  const issues = typeof error.detail === 'string' ? null : error.detail
  const message = issues ? issues.map((issue) => `${issue.loc.join('.')}: ${issue.msg}`).join('; ') : (error.detail as string)
  const param = issues?.[0]?.loc.filter((part) => part !== 'body').join('.') || null
  return { error: { message, type: typeOf(error), param, code: error.code }, request_id: requestId }
}
