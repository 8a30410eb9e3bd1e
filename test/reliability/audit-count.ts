/**
 * What the audit log holds after a run: request records by status (the requests refused before
 * any key was identified count with the number their `unauthenticated` summary gives), and the
 * requests it counted as refused while its buffer was full (`unaudited` records), read straight
 * from the store.
 */
import Database from 'better-sqlite3'
import path from 'node:path'
import pg from 'pg'

export interface AuditCount {
  requests: number
  refusedUnaudited: number
  byStatus: Record<string, number>
}

type Row = { kind: string; status: number | null; detail: string | null }

function tally(rows: Row[]): AuditCount {
  const count: AuditCount = { requests: 0, refusedUnaudited: 0, byStatus: {} }
  for (const row of rows) {
    if (row.kind === 'request' || row.kind === 'unauthenticated') {
      const n = row.kind === 'request' ? 1 : ((JSON.parse(row.detail ?? '{}') as { requests?: number }).requests ?? 0)
      count.requests += n
      count.byStatus[String(row.status)] = (count.byStatus[String(row.status)] ?? 0) + n
    } else if (row.kind === 'unaudited') {
      count.refusedUnaudited += (JSON.parse(row.detail ?? '{}') as { refused?: number }).refused ?? 0
    }
  }
  return count
}

/** Counts the audit records of a SQLite data directory. */
export function sqliteAuditCount(dataDir: string): AuditCount {
  const db = new Database(path.join(dataDir, 'infergate.db'), { readonly: true })
  try {
    return tally(
      db.prepare("SELECT kind, status, detail FROM audit_log WHERE kind IN ('request', 'unaudited', 'unauthenticated')").all() as Row[],
    )
  } finally {
    db.close()
  }
}

/** Counts the audit records of a PostgreSQL database. */
export async function postgresAuditCount(url: string): Promise<AuditCount> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<Row>(
      "SELECT kind, status, detail FROM audit_log WHERE kind IN ('request', 'unaudited', 'unauthenticated')",
    )
    return tally(rows)
  } finally {
    await client.end()
  }
}
