/**
 * Recognises the errors of a store that is down or cannot write (PostgreSQL restarting or
 * unreachable, SQLite on a full or failing disk), so that the requests that needed it are
 * answered 503 `service_unavailable` with `Retry-After`, not 500: the client may retry, and
 * nothing is wrong with the server itself.
 */

// Node's socket errors when the database server is gone or not yet back.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN'])
// SQLite result codes of a disk that is full, failing or locked, or of a file that cannot be opened.
const SQLITE_CODES = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CANTOPEN|READONLY|NOMEM)/
// PostgreSQL SQLSTATE classes: 08 connection exception, 53 insufficient resources,
// 57P operator intervention (shutting down, cannot connect now).
const POSTGRES_STATE = /^(08|53|57P)/
// node-postgres reports a dropped or refused connection in its message only.
const POSTGRES_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection closed/i

/** True when an error means the store is unavailable for now rather than a bug. */
export function isStoreUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as NodeJS.ErrnoException).code
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLITE_CODES.test(code) || POSTGRES_STATE.test(code))) return true
  if (error instanceof AggregateError && error.errors.some(isStoreUnavailable)) return true
  return POSTGRES_MESSAGES.test(error.message)
}
