/** The store's handle and how to open it, shared by both dialects (`sqlite.ts`, `postgres.ts`) and every service. */
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
  /**
   * Runs `work` in a transaction that holds the write lock from its first statement, so that
   * what it reads cannot be changed by another process before it writes (the audit chain's
   * head). Rolls back when `work` throws.
   */
  writeTransaction<T>(work: (trx: Kysely<DatabaseSchema>) => Promise<T>): Promise<T>
  /**
   * Runs `work` in a transaction for conditional row updates (credit balances): on SQLite the
   * same write lock as `writeTransaction`; on PostgreSQL a plain transaction whose row locks are
   * enough (a conditional UPDATE re-checks its condition on the row it waited for), without the
   * store-wide lock that audit appends take. Rolls back when `work` throws.
   */
  rowTransaction<T>(work: (trx: Kysely<DatabaseSchema>) => Promise<T>): Promise<T>
  /**
   * Inserts rows given as arrays of values in `columns` order, inside `writeTransaction`
   * (`trx` is its handle), as cheaply as the store allows: the audit log's hot path, where
   * building and preparing SQL for every batch cost several times more than the writes.
   */
  insertRows<T extends keyof DatabaseSchema>(
    trx: Kysely<DatabaseSchema>,
    table: T,
    columns: readonly (keyof DatabaseSchema[T] & string)[],
    rows: readonly (readonly unknown[])[],
  ): Promise<void>
  /** Gives pages freed by deletions back to the file system where the store can (SQLite files made by this version). */
  reclaimSpace(): Promise<void>
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>
  close(): Promise<void>
}
