/**
 * How a request ended, as the stable outcome codes of the audit log, the usage figures, the
 * metrics and the dashboard (`audit/outcomes.ts`): worked out once per request, when it
 * finishes, from the true reason of an authentication failure, the answer's error code and its
 * status.
 */
import type { Outcome } from '../audit/outcomes.js'
import { ErrorCode } from '../errors.js'
import type { AuthFailure } from '../keys/refusals.js'

/** Status recorded for a request whose client went away before the answer (nginx's 499). */
export const CLIENT_CLOSED_STATUS = 499

const BY_ERROR_CODE: Partial<Record<ErrorCode, Outcome>> = {
  [ErrorCode.InsufficientScope]: 'insufficient_scope',
  [ErrorCode.ModelForbidden]: 'insufficient_scope',
  [ErrorCode.RateLimited]: 'rate_limited',
  [ErrorCode.QuotaExhausted]: 'quota_exhausted',
  [ErrorCode.AuthRateLimited]: 'rate_limited',
  [ErrorCode.ConcurrencyLimited]: 'concurrency_limited',
  [ErrorCode.ServerBusy]: 'server_busy',
  // Refused because the audit buffer is full (never itself audited, but counted in metrics).
  [ErrorCode.ServiceUnavailable]: 'server_busy',
  [ErrorCode.PredictionTimeout]: 'timeout',
  // A remote model's server failed: told apart from infergate's own failures.
  [ErrorCode.UpstreamError]: 'upstream_error',
  [ErrorCode.UpstreamUnavailable]: 'upstream_unavailable',
  [ErrorCode.UpstreamTimeout]: 'upstream_timeout',
}

const BY_AUTH_FAILURE: Record<AuthFailure, Outcome> = {
  missing: 'missing_key',
  malformed: 'invalid_key',
  unknown: 'invalid_key',
  expired: 'expired_key',
  revoked: 'revoked_key',
  disabled: 'disabled_key',
  rotated: 'rotated_key',
  ip_not_allowed: 'ip_not_allowed',
}

/** The outcome of an answered request; `aborted` when the client left first. */
export function outcomeOf(status: number, authFailure: AuthFailure | null, errorCode: ErrorCode | null): Outcome {
  if (status === CLIENT_CLOSED_STATUS) return 'aborted'
  if (authFailure !== null) return BY_AUTH_FAILURE[authFailure]
  const known = errorCode === null ? undefined : BY_ERROR_CODE[errorCode]
  if (known) return known
  if (status < 400) return 'ok'
  if (status === 504) return 'timeout'
  if (status >= 500) return 'error'
  return 'bad_request'
}
