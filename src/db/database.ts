/**
 * Opens the store behind keys, jobs and the audit log: one Kysely query layer over SQLite
 * (default, embedded) or PostgreSQL (`--database-url`, for several instances). Stores never
 * branch on the dialect; what differs between the two lives in `sqlite.ts` and `postgres.ts`.
 */
import { explainOpenError } from './open-errors.js'
import type { Database, DatabaseOptions } from './types.js'

/** Opens (creating and migrating if needed) the store the options point to. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  try {
    if (options.databaseUrl) {
      const { openPostgres } = await import('./postgres.js')
      return await openPostgres(options.databaseUrl)
    }
    const { openSqlite } = await import('./sqlite.js')
    return await openSqlite(options.dataDir)
  } catch (error) {
    throw explainOpenError(error, options)
  }
}
