/**
 * A raw HTTP/1.1 client on node:net, for requests no HTTP library would send: conflicting
 * `Content-Length` / `Transfer-Encoding`, broken chunking, invalid bytes in the request line.
 * One request per connection; the answer is read until the server closes the connection.
 */
import net from 'node:net'

export interface RawAnswer {
  /** null when the connection closed (or timed out) without an answer. */
  status: number | null
  headers: Record<string, string>
  body: string
  timedOut: boolean
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  while (at < body.length) {
    const lineEnd = body.indexOf('\r\n', at)
    if (lineEnd < 0) break
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16)
    if (!Number.isFinite(size) || size === 0) break
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

/** Parses the first answer in the bytes received. */
export function parseAnswer(bytes: Buffer, timedOut = false): RawAnswer {
  const headEnd = bytes.indexOf('\r\n\r\n')
  const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(bytes.subarray(0, 16).toString('latin1'))
  if (headEnd < 0 || !statusMatch) return { status: null, headers: {}, body: '', timedOut }
  const headers: Record<string, string> = {}
  for (const line of bytes.subarray(0, headEnd).toString('latin1').split('\r\n').slice(1)) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let body = bytes.subarray(headEnd + 4)
  if (headers['transfer-encoding']?.includes('chunked')) body = dechunk(body)
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']))
  return { status: Number(statusMatch[1]), headers, body: body.toString('utf8'), timedOut }
}

/** True once the bytes hold a whole answer (by its Content-Length or its last chunk). */
function complete(bytes: Buffer): boolean {
  const headEnd = bytes.indexOf('\r\n\r\n')
  if (headEnd < 0) return false
  const head = bytes.subarray(0, headEnd).toString('latin1').toLowerCase()
  const length = /\r\ncontent-length: *(\d+)/.exec(head)
  if (length) return bytes.length - headEnd - 4 >= Number(length[1])
  return /\r\ntransfer-encoding: *chunked/.test(head) && bytes.subarray(-5).toString('latin1') === '0\r\n\r\n'
}

/**
 * Sends the bytes and resolves with the first answer. With `halfClose`, the client then ends
 * its side, so that a request that claims more than it sends meets the end of input (Node
 * treats a half-closed client as gone: its pending request is aborted).
 */
export function sendRaw(port: number, request: Buffer, options: { halfClose?: boolean; timeoutMs?: number } = {}): Promise<RawAnswer> {
  const timeoutMs = options.timeoutMs ?? 10_000
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const socket = net.connect(port, '127.0.0.1')
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      socket.destroy()
    }, timeoutMs)
    socket.on('connect', () => {
      socket.write(request)
      if (options.halfClose) socket.end()
    })
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      if (complete(Buffer.concat(chunks))) socket.destroy()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(parseAnswer(Buffer.concat(chunks), timedOut))
    })
  })
}

/** Builds request bytes: the request line, the headers as given (repeated names allowed), the body. */
export function rawRequest(
  method: string,
  target: string | Buffer,
  headers: [string, string | Buffer][],
  body: Buffer = Buffer.alloc(0),
): Buffer {
  const line = Buffer.concat([
    Buffer.from(`${method} `, 'latin1'),
    Buffer.isBuffer(target) ? target : Buffer.from(target, 'latin1'),
    Buffer.from(' HTTP/1.1\r\n'),
  ])
  const head = headers.map(([name, value]) =>
    Buffer.concat([Buffer.from(`${name}: `, 'latin1'), Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1'), Buffer.from('\r\n')]),
  )
  return Buffer.concat([line, ...head, Buffer.from('\r\n'), body])
}
