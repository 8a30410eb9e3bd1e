/**
 * Structured JSON logs with pino, the one place where loggers are made. Two layers keep keys
 * out of the logs:
 * - the headers that carry keys (`x-api-key`, `authorization` and the configured key header)
 *   are redacted wherever a headers object is logged (the request serializer logs none);
 * - every serialised line is scrubbed of anything shaped like an infergate key, wherever it
 *   appears (a key pasted into a text, an error message, a URL): it keeps its visible prefix.
 */
import pino from 'pino'
import type { Logger, LevelWithSilent, DestinationStream } from 'pino'
import { KEY_PREFIX, visiblePrefix } from './keys/format.js'

const CENSOR = '[redacted]'
// No word boundaries: a key glued to other characters (`key_igk_...`) is scrubbed too.
const KEY_ANYWHERE = /igk_[0-9A-Za-z]{38}/g

/** Redaction paths for the headers that carry keys, under the usual places headers are logged. */
export function redactedPaths(keyHeader = 'X-API-Key'): string[] {
  const headers = [...new Set(['x-api-key', 'authorization', keyHeader.toLowerCase()])]
  return ['req.headers', 'request.headers', 'headers', '*.headers'].flatMap((base) => headers.map((name) => `${base}["${name}"]`))
}

/** Replaces every key-shaped string in a log line by its visible prefix and a marker. */
export function scrubKeys(line: string): string {
  if (!line.includes(KEY_PREFIX)) return line
  return line.replace(KEY_ANYWHERE, (key) => `${visiblePrefix(key)}…${CENSOR}`)
}

/** A pino logger at `level`, writing to `destination` (stdout by default). */
export function createLogger(level: LevelWithSilent, destination?: DestinationStream, keyHeader?: string): Logger {
  return pino(
    {
      level,
      redact: { paths: redactedPaths(keyHeader), censor: CENSOR },
      hooks: { streamWrite: scrubKeys },
    },
    destination,
  )
}
