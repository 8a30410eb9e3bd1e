/**
 * PostgreSQL for tests: each app gets a schema of its own in the `test` database (dropped when
 * the test process ends), so that the route suite can run on PostgreSQL exactly as on SQLite.
 */
import net from 'node:net'
import pg from 'pg'

/** Set (by scripts/run-tests.mjs) to run the suite on PostgreSQL instead of SQLite. */
export const TEST_DATABASE_URL = process.env.INFERGATE_TEST_DATABASE_URL ?? ''
const DEFAULT_TEST_POSTGRES = 'postgres://postgres@127.0.0.1:5432/test'

const created: string[] = []
let cleanupRegistered = false

function withSearchPath(url: string, schema: string): string {
  // Spelled out: URLSearchParams would write the space as '+', which pg reads literally.
  return `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`
}

async function dropSchemas(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  for (const schema of created.splice(0)) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await client.end()
}

/** A new empty schema and the URL that uses it. */
export async function freshPostgres(url = TEST_DATABASE_URL || DEFAULT_TEST_POSTGRES): Promise<string> {
  const schema = `t_${process.pid}_${Date.now().toString(36)}_${created.length}`
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query(`CREATE SCHEMA ${schema}`)
  await client.end()
  created.push(schema)
  if (!cleanupRegistered) {
    cleanupRegistered = true
    process.on('beforeExit', () => {
      if (created.length > 0) void dropSchemas(url).catch(() => {})
    })
  }
  return withSearchPath(url, schema)
}

/** True when a PostgreSQL server answers on the test URL's host and port. */
export async function postgresReachable(url = TEST_DATABASE_URL || DEFAULT_TEST_POSTGRES): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect(Number(port || 5432), hostname)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
