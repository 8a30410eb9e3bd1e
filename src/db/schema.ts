/**
 * Table types for the query layer. Times are milliseconds since the Unix epoch (BIGINT), so
 * SQLite and PostgreSQL store them alike.
 */
export interface ApiKeysTable {
  id: string
  name: string
  /** `igk_` and the first characters of the key: enough for a human to recognise it. */
  prefix: string
  /** Hex SHA-256 of the key; the key itself is never stored. */
  key_hash: string
  /** Comma-separated scopes, e.g. `admin,predict`. */
  scopes: string
  created_at: number
  expires_at: number | null
  revoked_at: number | null
  last_used_at: number | null
  updated_at: number
  /** JSON array of limit rules, or NULL for the server's default limits. */
  limits: string | null
  /** JSON array of the model names the key may use, or NULL for all. */
  models: string | null
  /** JSON array of CIDR ranges the key may be used from, or NULL for any address. */
  allowed_ips: string | null
  /** Most requests of the key in flight at once, or NULL for no cap. */
  max_concurrency: number | null
  /** External id of who the key belongs to (`[A-Za-z0-9_.-]{1,255}`); keys of before owners: `default`. */
  owner: string
  /** A small JSON object chosen by the operator, or NULL. */
  metadata: string | null
  /** 1 while the key is disabled (temporarily refused), else 0. */
  disabled: number
  /** Set by a rotation on the old key: the id of the key that replaced it. */
  rotated_to: string | null
  /** Set by a rotation on the old key: when it stops being accepted. */
  grace_ends_at: number | null
  /** Credit balance (src/accounting/credits.ts); NULL: no balance, unlimited. */
  credits_remaining: number | null
  /** What the balance counts: 'tokens' (LLM tokens), or NULL for request units. */
  credits_unit: string | null
  /** What a refill sets the balance back to, and how often; NULL: never refilled. */
  credits_refill_amount: number | null
  credits_refill_ms: number | null
  /** Start of the current refill period. */
  credits_refilled_at: number | null
}

/** Limits shared by all keys of an owner (a row exists only once limits were set). */
interface OwnersTable {
  id: string
  /** JSON array of limit rules, or NULL for none. */
  limits: string | null
  /** JSON array of CIDR ranges every key of the owner may be used from, or NULL for any address. */
  allowed_ips: string | null
  /** Most requests of all keys of the owner in flight at once, or NULL for no cap. */
  max_concurrency: number | null
  /** Credit balance (src/accounting/credits.ts); NULL: no balance, unlimited. */
  credits_remaining: number | null
  /** What the balance counts: 'tokens' (LLM tokens), or NULL for request units. */
  credits_unit: string | null
  /** What a refill sets the balance back to, and how often; NULL: never refilled. */
  credits_refill_amount: number | null
  credits_refill_ms: number | null
  /** Start of the current refill period. */
  credits_refilled_at: number | null
  created_at: number
  updated_at: number
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'

export interface JobsTable {
  id: string
  key_id: string
  /** UTF-8 bytes of the job's texts, for the per-key and per-owner backlog caps. */
  bytes: number
  model: string
  status: JobStatus
  total: number
  done: number
  error: string | null
  created_at: number
  started_at: number | null
  finished_at: number | null
  /** The worker holding the job, and until when; another may take it after that. */
  lease_owner: string | null
  lease_until: number | null
  /** Not to be taken before this time (its key is at its limits). */
  not_before: number | null
  /** JSON of the credits taken at submission (`accounting/credits.ts` CreditTaken), or NULL. */
  credits: string | null
}

interface JobItemsTable {
  job_id: string
  idx: number
  /** The input text; NULL once its result is written. */
  text: string | null
  /** JSON {label, confidence, scores}, or NULL while pending. */
  result: string | null
}

/** One audit record; see `src/audit/record.ts` for the meaning of each field. */
export interface AuditLogTable {
  seq: number
  time: number
  kind: string
  request_id: string | null
  key_id: string | null
  key_prefix: string | null
  ip: string | null
  method: string | null
  route: string | null
  model: string | null
  status: number | null
  outcome: string
  cost: number
  latency_us: number | null
  texts: number | null
  chars: number | null
  action: string | null
  actor: string | null
  /** JSON text, hashed exactly as stored. */
  detail: string | null
  /** LLM requests only (migration 0012); hashed when set. */
  tokens_in: number | null
  tokens_out: number | null
  prev_hash: string
  hash: string
}

/** An event for webhook receivers (`src/webhooks/`), written by whoever caused it (server or CLI). */
interface WebhookEventsTable {
  /** `msg_...`, or a name made from the event for those that must exist once (`key.expiring`). */
  id: string
  type: string
  /** The JSON body sent to receivers. */
  payload: string
  created_at: number
}

/** One event's delivery to one configured URL; made by the server that fans the events out. */
interface WebhookDeliveriesTable {
  event_id: string
  url: string
  attempts: number
  next_attempt_at: number
  lease_owner: string | null
  lease_until: number | null
  delivered_at: number | null
  /** Set when every attempt failed: no more retries. */
  failed_at: number | null
  last_error: string | null
  created_at: number
}

export interface DatabaseSchema {
  webhook_events: WebhookEventsTable
  webhook_deliveries: WebhookDeliveriesTable
  api_keys: ApiKeysTable
  owners: OwnersTable
  jobs: JobsTable
  job_items: JobItemsTable
  audit_log: AuditLogTable
}
