/**
 * PostgreSQL for tests: each app gets a schema of its own in the `test` database (dropped by
 * scripts/run-tests.mjs once its process has exited), so that the route suite can run on
 * PostgreSQL exactly as on SQLite.
 */
import net from 'node:net'
import pg from 'pg'

/** Set (by scripts/run-tests.mjs) to run the suite on PostgreSQL instead of SQLite. */
export const TEST_DATABASE_URL = process.env.INFERGATE_TEST_DATABASE_URL ?? ''
const DEFAULT_TEST_POSTGRES = 'postgres://postgres@127.0.0.1:5432/test'

/** Schemas made by this process so far (a suffix that keeps their names apart). */
let made = 0

function withSearchPath(url: string, schema: string): string {
  // Spelled out: URLSearchParams would write the space as '+', which pg reads literally.
  return `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`
}

/** A new empty schema and the URL that uses it. */
export async function freshPostgres(url = TEST_DATABASE_URL || DEFAULT_TEST_POSTGRES): Promise<string> {
  const schema = `t_${process.pid}_${Date.now().toString(36)}_${made++}`
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query(`CREATE SCHEMA ${schema}`)
  await client.end()
  // Not dropped here at 'beforeExit': Node fires it whenever the loop runs out of work, also in
  // the middle of a test file, and dropping then took schemas from apps still in use (CI saw
  // "schema t_… does not exist"). scripts/run-tests.mjs drops the schemas of exited processes
  // before the PostgreSQL pass and after the run.
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
