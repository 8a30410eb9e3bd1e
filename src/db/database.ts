/**
 * Opens the store behind keys, jobs and the audit log: one Kysely query layer over SQLite
 * (default, embedded) or PostgreSQL (`--database-url`, for several instances). Stores never
 * branch on the dialect; what differs between the two lives in `sqlite.ts` and `postgres.ts`.
 */
import type { Kysely } from 'kysely'
import type { DatabaseSchema } from './schema.js'

export interface DatabaseOptions {
  /** Directory of the SQLite file, when no database URL is given. */
  dataDir: string
  /** `postgres://...` to use PostgreSQL; empty for SQLite. */
  databaseUrl?: string
}

/** A handle on the store shared by every service of one process. */
export interface Database {
  readonly kysely: Kysely<DatabaseSchema>
  readonly dialect: 'sqlite' | 'postgres'
  /** Where the data is, for messages (never a password). */
  readonly location: string
  /**
   * Calls `listener` soon after a change is committed by another process (the CLI, another
   * instance) — or possibly by this one. Returns a function that stops listening.
   */
  onExternalChange(listener: () => void): () => void
  /** Tells other processes that something they may cache (keys) changed. */
  announceChange(): Promise<void>
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>
  close(): Promise<void>
}

export const SQLITE_FILE = 'infergate.db'

/** Opens (creating and migrating if needed) the store the options point to. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const { openPostgres } = await import('./postgres.js')
    return openPostgres(options.databaseUrl)
  }
  const { openSqlite } = await import('./sqlite.js')
  return openSqlite(options.dataDir)
}
