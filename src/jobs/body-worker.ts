/**
 * The job-body worker thread: takes over one channel per large `POST /v1/jobs` body
 * (`body-channel.ts`), parses and validates the body there against the route's own schema (the
 * same Ajv set-up as the route would use) and keeps a valid body's texts until the store has
 * fetched them. A 32 MB body takes the better part of a second to parse and check; here, that
 * second is not taken from every other request.
 */
import os from 'node:os'
import type { MessagePort } from 'node:worker_threads'
import { serveCalls } from '../lib/worker-calls.js'
import { receiveBody } from './body-channel.js'
import { compileBodySchema } from './body-judge.js'

export interface BodyWorkerData {
  /** The route's body schema, as JSON. */
  schema: object
}

/** A call: take over this body's channel. */
export interface BodyCall {
  port: MessagePort
}

if (process.platform === 'linux') os.setPriority(10)

await serveCalls<BodyCall, null, null>((data) => {
  const validate = compileBodySchema((data as BodyWorkerData).schema)
  return {
    info: null,
    handle({ port }) {
      receiveBody(port, validate)
      return { answer: null }
    },
  }
})
