/**
 * Versioned schema migrations, run at start-up (and by every CLI command that opens the
 * store). Kysely's migrator records what ran and takes a lock, so they are idempotent.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely'
import { Migrator } from 'kysely'

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
