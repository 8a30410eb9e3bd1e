/**
 * Reads a request body segment by segment into a sink, for a worker thread to join. Fastify's
 * own reader joins the chunks on the main thread at the end: for a 32 MB body that one
 * `Buffer.concat` stalled the event loop for ~100-200 ms here. A chunk that owns its memory (what
 * Node's HTTP parser gives) goes to the sink as it is; others are copied into segments of up to
 * 1 MiB, each handed over once full (the last one at the end). Moved to a worker at once, a
 * 32 MB body never sits in this thread's memory, whose growth would otherwise set off a full
 * garbage collection here. Limits and errors are Fastify's: 413 past `limit`, 400 when
 * Content-Length does not match.
 */
import type { Readable } from 'node:stream'
import { errorCodes } from 'fastify'

const SEGMENT_BYTES = 1024 * 1024

/** A body as segments, each in a buffer of its own (so they can be transferred); the last one may be partly filled. */
export interface SegmentedBody {
  segments: Uint8Array[]
  length: number
}

/** Receives each segment of a body once it is full, then the last one (which may be shorter). */
export type SegmentSink = (segment: Uint8Array) => void

/** Reads the body into `sink`, segment by segment; resolves with its length in bytes. */
export function readSegmented(payload: Readable, limit: number, contentLength: number, sink: SegmentSink): Promise<number> {
  if (contentLength > limit) return Promise.reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
  let length = 0
  let current: Uint8Array | undefined
  let used = 0
  // A body that says it is small gets a segment of its size, not a whole MiB.
  let next = contentLength >= 0 && contentLength < SEGMENT_BYTES ? Math.max(1, contentLength) : SEGMENT_BYTES
  const append = (chunk: Buffer) => {
    length += chunk.length
    // Node's HTTP parser copies each body chunk into memory of its own: that memory moves to the
    // sink as it is. Copying it into fresh segments cost page faults, ~10-25 ms of stalled
    // event loop per MiB on this machine's VM, more than anything else while a 32 MB job came in.
    if (ownsItsMemory(chunk)) {
      flush()
      return sink(chunk)
    }
    for (let offset = 0; offset < chunk.length;) {
      if (!current) {
        current = new Uint8Array(next)
        next = SEGMENT_BYTES
        used = 0
      }
      const copied = chunk.copy(current, used, offset, Math.min(chunk.length, offset + current.length - used))
      used += copied
      offset += copied
      if (used === current.length) flush()
    }
  }
  const flush = () => {
    if (current) sink(current.subarray(0, used))
    current = undefined
  }
  return new Promise((resolve, reject) => {
    const stop = (error: Error | null) => {
      payload.off('data', onData).off('end', onEnd).off('error', stop)
      if (error) reject(error)
      else resolve(length)
    }
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      if (length + bytes.length > limit) return stop(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
      append(bytes)
    }
    const onEnd = () => {
      if (!Number.isNaN(contentLength) && length !== contentLength) return stop(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH())
      flush()
      stop(null)
    }
    payload.on('data', onData).on('end', onEnd).on('error', stop)
    payload.resume()
  })
}

/** True when `chunk` is the whole of its ArrayBuffer (not a slice of a shared pool), which can then move. */
function ownsItsMemory(chunk: Buffer): boolean {
  return chunk.byteOffset === 0 && chunk.buffer.byteLength === chunk.length
}
