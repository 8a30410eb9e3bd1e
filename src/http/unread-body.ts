/**
 * Answers given before the request's body was read — a 401 or 403 decided on the headers of a
 * 700 KB upload, a 404, a URL that cannot be decoded — must still reach the client. Closing a
 * connection while the client is still sending makes the kernel reset it, and a client whose
 * upload fails on that reset usually drops the answer it had not read yet: "connection reset"
 * instead of a 401 (measured: 3-5 of the 5,000 generated requests of
 * test/reliability/bad-input.test.ts lost in every run on the dev machine, all 700 KB uploads
 * refused early; test/integration/early-answer.test.ts lost 2 of 60 in some runs).
 *
 * So before such an answer is sent, the rest of the body is read and thrown away — at most
 * `maxBytes` (the body size limit) and `DRAIN_MS`; a body declared larger than the limit is not
 * waited for (its 413 goes at once). Bytes that never became a request (the HTTP parser refused
 * them) get their answer first, then the connection reads and drops what still comes before it
 * closes. This is nginx's "lingering close".
 */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'

/** Longest wait for the rest of a body before answering anyway. */
const DRAIN_MS = 5000

/** Whether `request` has body bytes not read yet that are worth waiting for (at most `maxBytes`). */
export function hasUnreadBody(request: IncomingMessage, maxBytes: number): boolean {
  if (request.complete || request.readableEnded || !expectsBody(request)) return false
  return Number(request.headers['content-length'] ?? 0) <= maxBytes
}

/** Resolves once the unread rest of `request`'s body (if any, up to `maxBytes`) has been read. */
export function discardUnreadBody(request: IncomingMessage, maxBytes: number): Promise<void> {
  return hasUnreadBody(request, maxBytes) ? discardRest(request, maxBytes, DRAIN_MS) : Promise.resolve()
}

/** Sockets answered and now reading out what their client still sends. */
const lingering = new WeakSet<Socket>()

/** Whether `socket` is reading out a refused request (its answer already sent). */
export function isLingering(socket: Socket): boolean {
  return lingering.has(socket)
}

/**
 * After an answer was written with `socket.end()`: reads and drops what the client still sends,
 * then destroys the socket — once the client ends, `maxBytes` have come or `DRAIN_MS` passed.
 */
export function lingerThenDestroy(socket: Socket, maxBytes: number): void {
  lingering.add(socket)
  // Node's HTTP parser would refuse each further chunk again and close the socket at once.
  socket.removeAllListeners('data')
  void discardRest(socket, maxBytes, DRAIN_MS).then(() => socket.destroy())
}

function expectsBody(request: IncomingMessage): boolean {
  return Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined
}

/** Reads and drops `stream` until it ends, closes, `maxBytes` have come or `ms` have passed. */
function discardRest(stream: Readable, maxBytes: number, ms: number): Promise<void> {
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
    // The stream itself keeps the process alive while it is open; the timer need not.
    const timer = setTimeout(done, ms)
    timer.unref()
    stream.on('data', onData)
    stream.once('end', done)
    stream.once('close', done)
    stream.once('error', done)
    stream.resume()
  })
}
