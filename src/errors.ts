/**
 * The one place where failures get their codes and HTTP statuses.
 *
 * Two ways to say no, each for a reason:
 * - Changes to keys return results (`ChangeResult`, `keys/refusals.ts`): their refusals are
 *   expected, several, and shown by the HTTP API and the CLI alike from one message table.
 * - Everything else that refuses a request throws an `AppError` carrying a stable `ErrorCode` —
 *   services too (jobs, model access, the batcher's backpressure) — since the code, not the
 *   status, is what callers rely on. This module alone maps codes to statuses (`statusOf`,
 *   exhaustive), and `http/error-answer.ts` alone renders them as `{detail, code, request_id}`.
 */

/** Stable, documented error codes. Clients may rely on these strings. */
export enum ErrorCode {
  MissingApiKey = 'missing_api_key',
  InvalidApiKey = 'invalid_api_key',
  InsufficientScope = 'insufficient_scope',
  ModelForbidden = 'model_forbidden',
  RateLimited = 'rate_limited',
  /** The key (or its owner) already has its `concurrency` requests in flight. */
  ConcurrencyLimited = 'concurrency_limited',
  /** The key's or its owner's credit balance is short (`accounting/credits.ts`). */
  QuotaExhausted = 'quota_exhausted',
  AuthRateLimited = 'auth_rate_limited',
  TooManyJobs = 'too_many_jobs',
  JobBacklogFull = 'job_backlog_full',
  BadRequest = 'bad_request',
  RequestTimeout = 'request_timeout',
  HeadersTooLarge = 'headers_too_large',
  UriTooLong = 'uri_too_long',
  ValidationError = 'validation_error',
  EmptyText = 'empty_text',
  InvalidJson = 'invalid_json',
  InvalidEncoding = 'invalid_encoding',
  UnsupportedMediaType = 'unsupported_media_type',
  PayloadTooLarge = 'payload_too_large',
  NotFound = 'not_found',
  /** The path exists with other methods (listed in `Allow`). */
  MethodNotAllowed = 'method_not_allowed',
  ModelNotFound = 'model_not_found',
  Conflict = 'conflict',
  ServerBusy = 'server_busy',
  ClientClosedRequest = 'client_closed_request',
  PredictionTimeout = 'prediction_timeout',
  /** A remote model's server failed or answered something unusable (its body is never echoed). */
  UpstreamError = 'upstream_error',
  /** A remote model's server cannot be reached, is overloaded, or its circuit breaker is open. */
  UpstreamUnavailable = 'upstream_unavailable',
  /** A remote model's server did not answer in time. */
  UpstreamTimeout = 'upstream_timeout',
  RateLimitUnavailable = 'ratelimit_unavailable',
  NotReady = 'not_ready',
  ServiceUnavailable = 'service_unavailable',
  InternalError = 'internal_error',
}

/** HTTP status of each code; the switch is exhaustive so a new code cannot be forgotten. */
function statusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.BadRequest:
    case ErrorCode.EmptyText:
    case ErrorCode.InvalidJson:
    case ErrorCode.InvalidEncoding:
      return 400
    case ErrorCode.MissingApiKey:
      return 401
    case ErrorCode.InvalidApiKey:
    case ErrorCode.InsufficientScope:
    case ErrorCode.ModelForbidden:
      return 403
    case ErrorCode.NotFound:
    case ErrorCode.ModelNotFound:
      return 404
    case ErrorCode.MethodNotAllowed:
      return 405
    case ErrorCode.RequestTimeout:
      return 408
    case ErrorCode.Conflict:
      return 409
    case ErrorCode.PayloadTooLarge:
      return 413
    case ErrorCode.UnsupportedMediaType:
      return 415
    case ErrorCode.UriTooLong:
      return 414
    case ErrorCode.ValidationError:
      return 422
    case ErrorCode.HeadersTooLarge:
      return 431
    case ErrorCode.RateLimited:
    case ErrorCode.ConcurrencyLimited:
    case ErrorCode.QuotaExhausted:
    case ErrorCode.AuthRateLimited:
    case ErrorCode.TooManyJobs:
    case ErrorCode.JobBacklogFull:
      return 429
    case ErrorCode.ClientClosedRequest:
      // nginx's convention: the client went away before the answer; nobody receives it.
      return 499
    case ErrorCode.InternalError:
      return 500
    case ErrorCode.UpstreamError:
      return 502
    case ErrorCode.ServerBusy:
    case ErrorCode.UpstreamUnavailable:
    case ErrorCode.RateLimitUnavailable:
    case ErrorCode.NotReady:
    case ErrorCode.ServiceUnavailable:
      return 503
    case ErrorCode.PredictionTimeout:
    case ErrorCode.UpstreamTimeout:
      return 504
  }
}

/** One FastAPI-style validation problem: where, what, and which kind. */
export interface ValidationIssue {
  loc: (string | number)[]
  msg: string
  type: string
  input?: unknown
  ctx?: Record<string, unknown>
}

/** `detail` is a sentence, or a list of validation issues (FastAPI's 422 shape). */
export type ErrorDetail = string | ValidationIssue[]

export interface AppErrorOptions {
  headers?: Record<string, string>
}

/** An expected failure with a stable code; safe to show to the caller as it is. */
export class AppError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  readonly detail: ErrorDetail
  readonly headers: Record<string, string>

  constructor(code: ErrorCode, detail: ErrorDetail, options: AppErrorOptions = {}) {
    super(typeof detail === 'string' ? detail : 'Validation failed')
    this.name = 'AppError'
    this.code = code
    this.statusCode = statusOf(code)
    this.detail = detail
    this.headers = options.headers ?? {}
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  detail: ErrorDetail
  code: ErrorCode
  request_id: string
}

/** Shorthands for the errors raised from more than one place. */
export const errors = {
  missingKey: () => new AppError(ErrorCode.MissingApiKey, 'Not authenticated', { headers: { 'www-authenticate': 'APIKey' } }),
  invalidKey: () => new AppError(ErrorCode.InvalidApiKey, 'Invalid API key'),
  insufficientScope: (scope: string) => new AppError(ErrorCode.InsufficientScope, `This API key lacks the '${scope}' scope`),
  notFound: (what = 'Not Found') => new AppError(ErrorCode.NotFound, what),
  validation: (issues: ValidationIssue[]) => new AppError(ErrorCode.ValidationError, issues),
  internal: () => new AppError(ErrorCode.InternalError, 'Internal Server Error'),
  /** The client left before its answer: no one reads it, but the request's work stops here. */
  clientClosed: () => new AppError(ErrorCode.ClientClosedRequest, 'The client closed the connection'),
  /** Redis does not answer and `--ratelimit-fail closed`: limits and concurrency caps alike. */
  rateLimitUnavailable: () =>
    new AppError(ErrorCode.RateLimitUnavailable, 'Rate limiting is unavailable; try again shortly', { headers: { 'retry-after': '1' } }),
  storeUnavailable: () =>
    new AppError(ErrorCode.ServiceUnavailable, 'The database is unavailable; try again shortly.', { headers: { 'retry-after': '1' } }),
}
