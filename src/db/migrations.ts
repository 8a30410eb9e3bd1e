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
}

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) }

/** Brings the schema up to date; throws with the failing migration's error. */
export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest()
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    throw new Error(`database migration ${failed} failed: ${String((error as Error).message ?? error)}`)
  }
}
