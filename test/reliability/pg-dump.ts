/** Every row infergate wrote to a PostgreSQL database, kept as an artifact for the security scan. */
import pg from 'pg'
import { saveArtifact } from './report.js'

const TABLES = ['api_keys', 'audit_log', 'jobs', 'job_items']

export async function keepPostgresRows(name: string, url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  let rows = 0
  try {
    const lines: string[] = []
    for (const table of TABLES) {
      const result = await client.query(`SELECT * FROM ${table}`)
      rows += result.rows.length
      for (const row of result.rows) lines.push(`${table} ${JSON.stringify(row)}`)
    }
    saveArtifact(`${name}-postgres-rows`, lines.join('\n'))
  } finally {
    await client.end()
  }
  return rows
}
