/**
 * Why a request ended as it did: stable strings that filters, the usage summary and the
 * dashboard rely on. No imports, so the dashboard's bundle can use this file too.
 */
// The gateway's refusals of the caller, named once: listed in OUTCOMES and as REJECTED_OUTCOMES.
const REFUSALS = [
  'missing_key',
  'invalid_key',
  'expired_key',
  'revoked_key',
  'disabled_key',
  'rotated_key',
  'ip_not_allowed',
  'insufficient_scope',
  'rate_limited',
  'concurrency_limited',
  'quota_exhausted',
] as const

export const OUTCOMES = [
  'ok',
  ...REFUSALS,
  'bad_request',
  'timeout',
  'server_busy',
  'upstream_error',
  'upstream_unavailable',
  'upstream_timeout',
  'error',
  'aborted',
] as const
export type Outcome = (typeof OUTCOMES)[number]

/** The gateway's refusals of the caller (its key, scope or rate), as opposed to failures of ours. */
export const REJECTED_OUTCOMES: readonly Outcome[] = REFUSALS
