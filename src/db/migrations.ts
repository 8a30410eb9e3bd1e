/**
 * Versioned schema migrations, run at start-up (and by every CLI command that opens the
 * store). Kysely's migrator records what ran and takes a lock, so they are idempotent.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely'
import { Migrator, SqliteAdapter } from 'kysely'

const migrations: Record<string, Migration> = {
  '0001_api_keys': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .addColumn('last_used_at', 'bigint')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
    },
  },
  '0002_key_limits': {
    async up(db: Kysely<unknown>) {
      // JSON array of {name, limit, windowMs}; NULL = the server's default limits.
      await db.schema.alterTable('api_keys').addColumn('limits', 'text').execute()
    },
  },
  '0003_audit': {
    async up(db: Kysely<unknown>) {
      // Append-only, hash-chained (see src/audit/chain.ts). seq orders the chain and is
      // assigned by the writer inside its transaction; it is not part of the hashed content.
      // On SQLite only INTEGER PRIMARY KEY makes it the rowid (one b-tree fewer per insert);
      // elsewhere it must be 64-bit.
      const seqType = db.getExecutor().adapter instanceof SqliteAdapter ? 'integer' : 'bigint'
      await db.schema
        .createTable('audit_log')
        .addColumn('seq', seqType, (c) => c.primaryKey())
        .addColumn('time', 'bigint', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('key_id', 'text')
        .addColumn('key_prefix', 'text')
        .addColumn('ip', 'text')
        .addColumn('method', 'text')
        .addColumn('route', 'text')
        .addColumn('model', 'text')
        .addColumn('status', 'integer')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('cost', 'integer', (c) => c.notNull())
        .addColumn('latency_us', 'bigint')
        .addColumn('texts', 'integer')
        .addColumn('chars', 'bigint')
        .addColumn('action', 'text')
        .addColumn('actor', 'text')
        .addColumn('detail', 'text')
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('audit_log_time').on('audit_log').column('time').execute()
      await db.schema.createIndex('audit_log_key_time').on('audit_log').columns(['key_id', 'time']).execute()
    },
  },
  '0004_jobs': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('total', 'integer', (c) => c.notNull())
        .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'bigint')
        // A job waiting for its key's rate limits is not taken again before this time.
        .addColumn('not_before', 'bigint')
        .execute()
      await db.schema.createIndex('jobs_key_created').on('jobs').columns(['key_id', 'created_at']).execute()
      await db.schema.createIndex('jobs_status_created').on('jobs').columns(['status', 'created_at']).execute()
      await db.schema
        .createTable('job_items')
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('idx', 'integer', (c) => c.notNull())
        // The input, kept only until its result is written.
        .addColumn('text', 'text')
        .addColumn('result', 'text')
        .addPrimaryKeyConstraint('job_items_pk', ['job_id', 'idx'])
        .execute()
    },
  },
  '0005_key_models': {
    async up(db: Kysely<unknown>) {
      // JSON array of model names the key may use; NULL = every model.
      await db.schema.alterTable('api_keys').addColumn('models', 'text').execute()
    },
  },
  '0006_key_lifecycle': {
    async up(db: Kysely<unknown>) {
      // Keys made before owners existed belong to the owner `default`.
      // One column per statement: SQLite's ALTER TABLE adds one at a time.
      await db.schema
        .alterTable('api_keys')
        .addColumn('owner', 'text', (c) => c.notNull().defaultTo('default'))
        .execute()
      await db.schema.alterTable('api_keys').addColumn('metadata', 'text').execute()
      await db.schema
        .alterTable('api_keys')
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .execute()
      await db.schema.alterTable('api_keys').addColumn('rotated_to', 'text').execute()
      await db.schema.alterTable('api_keys').addColumn('grace_ends_at', 'bigint').execute()
      await db.schema.createIndex('api_keys_owner_created').on('api_keys').columns(['owner', 'created_at']).execute()
      await db.schema
        .createTable('owners')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('limits', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
    },
  },
  '0007_job_bytes': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('jobs')
        .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute()
    },
  },
  '0008_webhooks': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('webhook_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('webhook_events_created').on('webhook_events').column('created_at').execute()
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'bigint')
        .addColumn('delivered_at', 'bigint')
        .addColumn('failed_at', 'bigint')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('webhook_deliveries_pk', ['event_id', 'url'])
        .execute()
      await db.schema
        .createIndex('webhook_deliveries_due')
        .on('webhook_deliveries')
        .columns(['delivered_at', 'failed_at', 'next_attempt_at'])
        .execute()
    },
  },
  '0009_ip_allow_lists': {
    async up(db: Kysely<unknown>) {
      // JSON arrays of normalised CIDR ranges the key (or every key of the owner) may be used from; NULL = anywhere.
      await db.schema.alterTable('api_keys').addColumn('allowed_ips', 'text').execute()
      await db.schema.alterTable('owners').addColumn('allowed_ips', 'text').execute()
    },
  },
  '0010_credits': {
    async up(db: Kysely<unknown>) {
      // A credit balance per key and per owner (src/accounting/credits.ts): NULL remaining = no
      // balance (unlimited). The refill, when set, puts the balance back to refill_amount every
      // refill_ms, counted from refilled_at. Charges change these columns only, never updated_at,
      // so they do not drop the instances' key caches.
      for (const table of ['api_keys', 'owners']) {
        for (const column of ['credits_remaining', 'credits_refill_amount', 'credits_refill_ms', 'credits_refilled_at']) {
          await db.schema.alterTable(table).addColumn(column, 'bigint').execute()
        }
      }
      // JSON: which balances a job's submission took credits from, and units per text, so that a
      // cancellation can give back the part not processed.
      await db.schema.alterTable('jobs').addColumn('credits', 'text').execute()
    },
  },
  '0011_concurrency_caps': {
    async up(db: Kysely<unknown>) {
      // Most requests of the key (or of all keys of the owner) in flight at once; NULL = no cap.
      await db.schema.alterTable('api_keys').addColumn('max_concurrency', 'integer').execute()
      await db.schema.alterTable('owners').addColumn('max_concurrency', 'integer').execute()
    },
  },
  '0012_llm_tokens': {
    async up(db: Kysely<unknown>) {
      // Prompt and completion tokens of LLM requests (src/routes/openai.ts), NULL for every other
      // record; hashed only when set (src/audit/canonical.ts), so older records verify unchanged.
      await db.schema.alterTable('audit_log').addColumn('tokens_in', 'bigint').execute()
      await db.schema.alterTable('audit_log').addColumn('tokens_out', 'bigint').execute()
    },
  },
  '0013_credit_units': {
    async up(db: Kysely<unknown>) {
      // What a credit balance counts (src/accounting/credits.ts): 'tokens' for LLM tokens; NULL,
      // as every balance before, request units.
      await db.schema.alterTable('api_keys').addColumn('credits_unit', 'text').execute()
      await db.schema.alterTable('owners').addColumn('credits_unit', 'text').execute()
    },
  },
}

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) }

/**
 * Brings the schema up to date; throws with the failing migration's error. On PostgreSQL pass
 * the current schema: Kysely otherwise finds its bookkeeping tables in any schema of the
 * database and may skip creating them in the one in use.
 */
export async function migrateToLatest(db: Kysely<unknown>, schema?: string): Promise<void> {
  const migrator = new Migrator({ db, provider, ...(schema ? { migrationTableSchema: schema } : {}) })
  const { error, results } = await migrator.migrateToLatest()
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    throw new Error(`database migration ${failed} failed: ${String((error as Error).message ?? error)}`)
  }
}
