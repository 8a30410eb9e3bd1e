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
import { redactKeys } from './keys/format.js'

const CENSOR = '[redacted]'

/** Redaction paths for the headers that carry keys, under the usual places headers are logged. */
export function redactedPaths(keyHeader = 'X-API-Key'): string[] {
  const headers = [...new Set(['x-api-key', 'authorization', keyHeader.toLowerCase()])]
  return ['req.headers', 'request.headers', 'headers', '*.headers'].flatMap((base) => headers.map((name) => `${base}["${name}"]`))
}

/** Replaces every key-shaped string in a log line by its visible prefix and a marker. */
export const scrubKeys = redactKeys

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
