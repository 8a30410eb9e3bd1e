/**
 * Structured JSON logs with pino, the one place where loggers are made. Two layers keep keys
 * out of the logs:
 * - the headers that carry keys (`x-api-key`, `authorization` and the configured key header)
 *   are redacted in a `headers` object logged at the top level or one level down (`req.headers`,
 *   `upstream.headers`; the request serializer logs none). A log formatter does it, not pino's
 *   `redact` option: that one copies every logged object and cost ~5 µs on each request's line
 *   (measured: 7.8 against 2.7 µs per line), more than anything else infergate adds to a request;
 * - every serialised line is scrubbed of anything shaped like an infergate key, wherever it
 *   appears (a key pasted into a text, an error message, a URL): it keeps its visible prefix.
 */
import pino from 'pino'
import type { Logger, LevelWithSilent, DestinationStream } from 'pino'
import { redactKeys } from './keys/format.js'

const CENSOR = '[redacted]'

type Fields = Record<string, unknown>

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value)

/** A copy of `headers` with the key-carrying ones censored; the same object when it has none. */
function censorHeaders(headers: Fields, names: ReadonlySet<string>): Fields {
  let censored: Fields | undefined
  for (const name of Object.keys(headers)) {
    if (!names.has(name.toLowerCase())) continue
    censored ??= { ...headers }
    censored[name] = CENSOR
  }
  return censored ?? headers
}

/** Censors key headers in `object.headers` and in `object.<any>.headers`; copies only what changes. */
export function redactKeyHeaders(object: Fields, names: ReadonlySet<string>): Fields {
  let result = object
  const set = (field: string, value: unknown) => {
    if (result === object) result = { ...object }
    result[field] = value
  }
  for (const field of Object.keys(object)) {
    const value = object[field]
    if (!isObject(value)) continue
    if (field === 'headers') {
      const censored = censorHeaders(value, names)
      if (censored !== value) set(field, censored)
    } else if (isObject(value.headers)) {
      const censored = censorHeaders(value.headers, names)
      if (censored !== value.headers) set(field, { ...value, headers: censored })
    }
  }
  return result
}

/** The header names (lower case) that carry keys. */
export function keyHeaderNames(keyHeader = 'X-API-Key'): ReadonlySet<string> {
  return new Set(['x-api-key', 'authorization', keyHeader.toLowerCase()])
}

/** Replaces every key-shaped string in a log line by its visible prefix and a marker. */
export const scrubKeys = redactKeys

/** Longest a log line waits in the buffer before it is written. */
const FLUSH_MS = 250

/**
 * Standard output for the server's log, written in chunks of at least 4 KB (and at least every
 * 250 ms) instead of one write per line: one write system call per request cost ~17 µs of the
 * event loop's time at 5,000 requests/s on this machine, more than authentication, limits and
 * the audit record together. On SIGTERM the buffer is flushed before exit (server.ts); a crash
 * loses at most the last 250 ms of log lines — never an audit record, which has its own store.
 */
export function bufferedStdout(): DestinationStream & { flush(cb?: (error?: Error) => void): void } {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 })
  setInterval(() => {
    try {
      destination.flush()
    } catch {
      // Not writable (stdout closed): the next write reports it through pino.
    }
  }, FLUSH_MS).unref()
  return destination
}

/** A pino logger at `level`, writing to `destination` (stdout by default). */
export function createLogger(level: LevelWithSilent, destination?: DestinationStream, keyHeader?: string): Logger {
  const names = keyHeaderNames(keyHeader)
  return pino(
    {
      level,
      formatters: { log: (object) => redactKeyHeaders(object, names) },
      hooks: { streamWrite: scrubKeys },
    },
    destination,
  )
}
