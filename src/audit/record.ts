/**
 * The audit record: what is kept about each request that reached authentication and each
 * administrative action (a request's outcome is worked out in `http/outcome.ts`).
 *
 * Never stored: the API key (only its id and visible prefix) and the texts sent for prediction
 * (only their count and total length).
 */
import { redactKeys } from '../keys/format.js'
import type { Outcome } from './outcomes.js'

// The outcome codes live in a file of their own, which the dashboard's bundle shares.
export { OUTCOMES } from './outcomes.js'
export type { Outcome } from './outcomes.js'

/**
 * `request`: one answered (or abandoned) request; `admin`: a change to a key; `unaudited`: a
 * summary of requests refused with 503 while the audit buffer was full; `unauthenticated`: how
 * many requests one address made in one minute that were refused before any key was identified
 * (no key, a malformed or unknown one, or blocked for failing too often; see `tally.ts`).
 */
export const RECORD_KINDS = ['request', 'admin', 'unaudited', 'unauthenticated'] as const
export type RecordKind = (typeof RECORD_KINDS)[number]

/** Administrative actions; `actor` says who did it: `cli`, `bootstrap`, `system` or a key id. */
export const ADMIN_ACTIONS = ['key.create', 'key.update', 'key.disable', 'key.enable', 'key.rotate', 'key.revoke', 'owner.update'] as const
export type AdminAction = (typeof ADMIN_ACTIONS)[number]

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
  /** LLM requests: prompt and completion tokens (as the upstream reported, else as reserved). */
  tokensIn?: number | null
  tokensOut?: number | null
}

/** A stored record: its place in the chain and its hashes. */
export interface AuditRecord extends AuditEntry {
  seq: number
  prevHash: string
  hash: string
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
