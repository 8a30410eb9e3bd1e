/**
 * Answers given before the request's body was read — a 401 or 403 decided on the headers of a
 * 700 KB upload, a 404 — must still reach the client. Closing a connection while the client is
 * still sending makes the kernel reset it, and a client whose upload fails on that reset
 * usually drops the answer it had not read yet: "connection reset" instead of a 401 (measured:
 * 3-5 of the 5,000 generated requests of test/reliability/bad-input.test.ts in every run on
 * the dev machine, all 700 KB uploads refused on their headers; test/integration/
 * early-answer.test.ts lost 2 of 60 in some runs).
 *
 * So before such an answer is sent, the rest of the body is read and thrown away — at most
 * `maxBytes` (the body size limit) and `DRAIN_MS`; a body declared larger than the limit is not
 * waited for (its 413 goes at once). This is the "lingering close" of nginx, done per request.
 */
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** Longest wait for the rest of a body before answering anyway. */
export const DRAIN_MS = 2000

export interface UnreadBodyOptions {
  /** Bytes to read at most (the body size limit). */
  maxBytes: number
}

async function unreadBody(app: FastifyInstance, options: UnreadBodyOptions): Promise<void> {
  app.addHook('onSend', async (request) => {
    const raw = request.raw
    if (raw.complete || raw.readableEnded || !expectsBody(raw)) return
    const declared = Number(raw.headers['content-length'] ?? 0)
    if (declared > options.maxBytes) return
    await discardRest(raw, options.maxBytes, DRAIN_MS)
  })
}

function expectsBody(raw: IncomingMessage): boolean {
  return Number(raw.headers['content-length'] ?? 0) > 0 || raw.headers['transfer-encoding'] !== undefined
}

/** Reads and drops `stream` until it ends, `maxBytes` have come or `ms` have passed. */
function discardRest(stream: IncomingMessage, maxBytes: number, ms: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const done = () => {
      clearTimeout(timer)
      stream.off('data', onData)
      stream.off('end', done)
      stream.off('close', done)
      stream.off('error', done)
      resolve()
    }
    const onData = (chunk: Buffer) => {
      seen += chunk.length
      if (seen > maxBytes) done()
    }
    const timer = setTimeout(done, ms)
    stream.on('data', onData)
    stream.once('end', done)
    stream.once('close', done)
    stream.once('error', done)
    stream.resume()
  })
}

export default fp(unreadBody, { name: 'unread-body' })
