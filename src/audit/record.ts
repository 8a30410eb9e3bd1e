/**
 * The audit record: what is kept about each request that reached authentication and each
 * administrative action, and how a request's answer maps to an outcome code.
 *
 * Never stored: the API key (only its id and visible prefix) and the texts sent for prediction
 * (only their count and total length).
 */
import { ErrorCode } from '../errors.js'
import { redactKeys } from '../keys/format.js'
import type { AuthFailure } from '../plugins/auth.js'
import type { Outcome } from './outcomes.js'

// The outcome codes live in a file of their own, which the dashboard's bundle shares.
export { OUTCOMES } from './outcomes.js'
export type { Outcome } from './outcomes.js'

/**
 * `request`: one answered (or abandoned) request; `admin`: a change to a key; `unaudited`: a
 * summary of requests refused with 503 while the audit buffer was full.
 */
export const RECORD_KINDS = ['request', 'admin', 'unaudited'] as const
export type RecordKind = (typeof RECORD_KINDS)[number]

/** Administrative actions; `actor` says who did it: `cli`, `bootstrap`, `system` or a key id. */
export const ADMIN_ACTIONS = ['key.create', 'key.update', 'key.disable', 'key.enable', 'key.rotate', 'key.revoke', 'owner.update'] as const
export type AdminAction = (typeof ADMIN_ACTIONS)[number]

/** Status recorded for a request whose client went away before the answer (nginx's 499). */
export const CLIENT_CLOSED_STATUS = 499

/** Everything a record says; this is what the hash covers. */
export interface AuditEntry {
  /** Milliseconds since the Unix epoch. */
  time: number
  kind: RecordKind
  requestId: string | null
  /** For requests the calling key; for admin records the key acted upon. */
  keyId: string | null
  keyPrefix: string | null
  ip: string | null
  method: string | null
  /** The route pattern (`/v1/audit`), never the URL with its query string. */
  route: string | null
  model: string | null
  status: number | null
  outcome: Outcome
  /** Units charged against the key's limits (0 when refused). */
  cost: number
  latencyUs: number | null
  /** Number of texts sent for prediction, and their total length in characters. */
  texts: number | null
  chars: number | null
  action: AdminAction | null
  actor: string | null
  /** JSON text with what else there is to say (changed fields, refused counts). */
  detail: string | null
}

/** A stored record: its place in the chain and its hashes. */
export interface AuditRecord extends AuditEntry {
  seq: number
  prevHash: string
  hash: string
}

const BY_ERROR_CODE: Partial<Record<ErrorCode, Outcome>> = {
  [ErrorCode.InsufficientScope]: 'insufficient_scope',
  [ErrorCode.ModelForbidden]: 'insufficient_scope',
  [ErrorCode.RateLimited]: 'rate_limited',
  [ErrorCode.AuthRateLimited]: 'rate_limited',
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
}

/** The outcome of an answered request, from the true reason of an auth failure, the error code and the status. */
export function outcomeOf(status: number, authFailure: AuthFailure | null, errorCode: ErrorCode | null): Outcome {
  if (authFailure !== null) return BY_AUTH_FAILURE[authFailure]
  const known = errorCode === null ? undefined : BY_ERROR_CODE[errorCode]
  if (known) return known
  if (status < 400) return 'ok'
  if (status === 504) return 'timeout'
  if (status >= 500) return 'error'
  return 'bad_request'
}

/** An entry of `kind` with every optional field empty. */
export function blankEntry(time: number, kind: RecordKind, outcome: Outcome): AuditEntry {
  return {
    time,
    kind,
    requestId: null,
    keyId: null,
    keyPrefix: null,
    ip: null,
    method: null,
    route: null,
    model: null,
    status: null,
    outcome,
    cost: 0,
    latencyUs: null,
    texts: null,
    chars: null,
    action: null,
    actor: null,
    detail: null,
  }
}

/** What a key service reports about an administrative action. */
export interface AdminEvent {
  action: AdminAction
  /** `cli`, `bootstrap`, `system` or the id of the acting key. */
  actor: string
  /** The key acted upon; null for an action on an owner (named in `detail`). */
  keyId: string | null
  keyPrefix: string | null
  /** What changed (never the key itself). */
  detail?: Record<string, unknown>
}

/** A record of an administrative action on a key. */
export function adminEntry(time: number, event: AdminEvent): AuditEntry {
  return {
    ...blankEntry(time, 'admin', 'ok'),
    keyId: event.keyId,
    keyPrefix: event.keyPrefix,
    action: event.action,
    actor: event.actor,
    // A key pasted where a name belongs must not end up in the log for good.
    detail: event.detail === undefined ? null : redactKeys(JSON.stringify(event.detail)),
  }
}

/** The summary written when requests were refused because the buffer was full. */
export function unauditedEntry(time: number, refused: number, from: number, to: number): AuditEntry {
  return { ...blankEntry(time, 'unaudited', 'server_busy'), status: 503, detail: JSON.stringify({ refused, from, to }) }
}
