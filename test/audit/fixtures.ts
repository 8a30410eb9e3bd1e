/** A real SQLite audit store on a temporary directory, sample records, and direct SQL access for tampering. */
import path from 'node:path'
import SQLite from 'better-sqlite3'
import type { AuditEntry } from '../../src/audit/record.js'
import { blankEntry } from '../../src/audit/record.js'
import { AuditStore } from '../../src/audit/store.js'
import type { Database } from '../../src/db/types.js'
import { openDatabase } from '../../src/db/database.js'
import { SQLITE_FILE } from '../../src/db/data-dir.js'
import { tempDir } from '../helper.js'

export interface TestStore {
  dataDir: string
  db: Database
  store: AuditStore
  /** Runs SQL on the file through a second connection, as someone with write access would. */
  tamper: (sql: string, ...params: unknown[]) => void
  /** Moves the records from `seq` on one place up, leaving `seq` free for an inserted row. */
  makeRoomAt: (seq: number) => void
  /** Exchanges the sequence numbers of two records. */
  swap: (a: number, b: number) => void
}

export async function openTestStore(): Promise<TestStore> {
  const dataDir = tempDir()
  const db = await openDatabase({ dataDir })
  const store = new AuditStore(db)
  const tamper = (sql: string, ...params: unknown[]) => {
    const raw = new SQLite(path.join(dataDir, SQLITE_FILE))
    try {
      raw.prepare(sql).run(...params)
    } finally {
      raw.close()
    }
  }
  const makeRoomAt = (seq: number) => {
    tamper('UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= ?', seq)
    tamper('UPDATE audit_log SET seq = seq - 999999 WHERE seq >= 1000000')
  }
  const swap = (a: number, b: number) => {
    tamper('UPDATE audit_log SET seq = -1 WHERE seq = ?', a)
    tamper('UPDATE audit_log SET seq = ? WHERE seq = ?', a, b)
    tamper('UPDATE audit_log SET seq = ? WHERE seq = -1', b)
  }
  return { dataDir, db, store, tamper, makeRoomAt, swap }
}

/** A request record for tests; `i` makes each one different. */
export function requestSample(i: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    ...blankEntry(Date.UTC(2026, 5, 1) + i * 1000, 'request', 'ok'),
    keyId: 'key_x',
    keyPrefix: 'igk_abcdef',
    requestId: `req-${i}`,
    ip: '127.0.0.1',
    method: 'POST',
    route: '/predict',
    model: 'sentiment',
    status: 200,
    cost: 1,
    latencyUs: 1200 + i,
    texts: 1,
    chars: 20 + i,
    ...overrides,
  }
}

/** A store holding `count` chained sample records (seq 1..count). */
export async function storeWith(count: number): Promise<TestStore> {
  const test = await openTestStore()
  await test.store.append(Array.from({ length: count }, (_, i) => requestSample(i + 1)))
  return test
}
