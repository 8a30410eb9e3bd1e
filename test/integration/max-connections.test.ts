/**
 * `--max-connections`: a server-wide cap on open client connections, with real sockets against
 * a real server. Connections over the cap are closed at once; the ones inside it keep working,
 * and a place freed is taken by the next client.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, test } from 'node:test'
import { tempDir } from '../helper.js'
import type { RunningServer } from './process.js'
import { startServer } from './process.js'

let server: RunningServer
before(async () => {
  server = await startServer(['--data-dir', tempDir(), '--no-bootstrap', '--max-connections', '3'])
})
after(() => server.stop('SIGTERM'))

/** Opens a socket, sends GET /health, and resolves with the status line or `closed` when the server hangs up first. */
function healthOver(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let seen = ''
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      if (seen.includes('\r\n')) resolve(seen.slice(0, seen.indexOf('\r\n')))
    })
    socket.on('close', () => resolve(seen === '' ? 'closed' : seen.slice(0, seen.indexOf('\r\n'))))
    socket.on('error', () => resolve('closed'))
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
  })
}

function connect(): Promise<net.Socket> {
  const { port } = new URL(server.url)
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => resolve(socket))
    socket.once('error', reject)
  })
}

test('three connections are served; a fourth is closed without an answer; once one leaves, a new one is served', async () => {
  const held = [await connect(), await connect(), await connect()]
  for (const socket of held) assert.equal(await healthOver(socket), 'HTTP/1.1 200 OK')
  const fourth = await connect().catch(() => undefined)
  assert.equal(fourth ? await healthOver(fourth) : 'closed', 'closed')
  held.pop()!.destroy()
  await new Promise((resolve) => setTimeout(resolve, 200))
  const next = await connect()
  assert.equal(await healthOver(next), 'HTTP/1.1 200 OK')
  for (const socket of [...held, next]) socket.destroy()
})
