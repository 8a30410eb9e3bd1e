import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { tempDir } from '../helper.js'
import { runCli, startServer } from './process.js'

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

test('SIGTERM finishes the request in flight, then exits 0', async () => {
  const dataDir = tempDir()
  const { key } = JSON.parse((await runCli(['keys', 'create', '--name', 'x', '--json', '--data-dir', dataDir])).stdout)
  const server = await startServer(['--data-dir', dataDir, '--no-bootstrap'])
  const { port } = new URL(server.url)
  const body = JSON.stringify({ text: 'a wonderful film' })

  // A request whose body is only half sent when the signal arrives.
  const socket = net.connect(Number(port), '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  let answer = ''
  socket.on('data', (chunk) => (answer += chunk.toString()))
  socket.write(
    `POST /predict HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n` +
      body.slice(0, 5),
  )
  await delay(200)
  const exit = server.stop('SIGTERM')
  await delay(300)
  assert.equal(server.child.exitCode, null, 'the server exited before finishing the request')
  socket.write(body.slice(5))
  await new Promise((resolve) => socket.once('close', resolve))
  assert.match(answer, /^HTTP\/1\.1 200 /)
  assert.match(answer, /"sentiment":"positive"/)
  assert.equal(await exit, 0)
  assert.match(server.stdout(), /shutting down/)
  assert.match(server.stdout(), /"msg":"stopped"/)
})
