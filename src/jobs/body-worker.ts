/**
 * The job-body worker thread: parses a `POST /v1/jobs` body and validates it against the
 * route's own schema (the same Ajv set-up as the route would use), then packs the texts into
 * one buffer that moves to the main thread. A 32 MB body takes the better part of a second to
 * parse and check; here, that second is not taken from every other request.
 */
import type { SegmentedBody } from '../http/segmented-body.js'
import { serveCalls } from '../lib/worker-calls.js'
import { compileBodySchema, judge, type BodyVerdict } from './body-judge.js'

export interface BodyWorkerData {
  /** The route's body schema, as JSON. */
  schema: object
}

await serveCalls<SegmentedBody, BodyVerdict, null>((data) => {
  const validate = compileBodySchema((data as BodyWorkerData).schema)
  return {
    info: null,
    handle(raw) {
      const verdict = judge(validate, raw)
      return {
        answer: verdict,
        transfer: verdict.kind === 'valid' ? [verdict.body.utf8.buffer as ArrayBuffer, verdict.body.ends.buffer as ArrayBuffer] : [],
      }
    },
  }
})
