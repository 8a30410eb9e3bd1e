/**
 * Slow clients: connections that trickle their headers or their body a byte at a time are cut
 * off by --headers-timeout / --request-timeout with a 408 in the documented shape, and do not
 * starve the clients that send whole requests meanwhile.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { after, isErrorShape, runLoad, status } from './load.js'
import { parseAnswer } from './raw-http.js'
import { LONG, scenario, sized } from './report.js'
import { UNLIMITED, createKeys, newDataDir, startReliabilityServer } from './server.js'

const SLOW_CLIENTS = sized(40, 400)
const HEADERS_TIMEOUT_MS = 1000
const REQUEST_TIMEOUT_MS = 2000
// Generous: the deadline plus Node's once-a-second check, on a loaded machine.
const CUT_OFF_BOUND_MS = 15_000

interface SlowResult {
  closedAfterMs: number
  status: number | null
  shaped: boolean
}

/** Sends `head`, then one byte of `drip` every 200 ms until the server closes the connection. */
function slowClient(port: number, head: string, drip: string): Promise<SlowResult> {
  return new Promise((resolve) => {
    const started = Date.now()
    const chunks: Buffer[] = []
    const socket = net.connect(port, '127.0.0.1')
    let timer: NodeJS.Timeout | undefined
    socket.on('connect', () => {
      socket.write(head)
      let at = 0
      timer = setInterval(() => {
        if (!socket.writable) return
        socket.write(drip[at++ % drip.length]!)
      }, 200)
    })
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => {})
    const giveUp = setTimeout(() => socket.destroy(), CUT_OFF_BOUND_MS * 2)
    socket.on('close', () => {
      clearInterval(timer)
      clearTimeout(giveUp)
      const answer = parseAnswer(Buffer.concat(chunks))
      resolve({ closedAfterMs: Date.now() - started, status: answer.status, shaped: isErrorShape(answer.body) })
    })
  })
}

test('slow clients are cut off by timeouts and do not starve others', { timeout: LONG ? 600_000 : 120_000 }, async () => {
  await scenario('slow-clients', 'Slow clients', async (report) => {
    const dataDir = newDataDir('slow')
    const [key] = await createKeys({ dataDir }, [{ name: 'slow', limits: UNLIMITED }])
    const server = await startReliabilityServer('slow-clients', { dataDir }, [
      '--headers-timeout',
      `${HEADERS_TIMEOUT_MS}ms`,
      '--request-timeout',
      `${REQUEST_TIMEOUT_MS}ms`,
    ])
    report.done = `${SLOW_CLIENTS} connections trickling headers or a JSON body one byte per 200 ms (--headers-timeout ${HEADERS_TIMEOUT_MS} ms, --request-timeout ${REQUEST_TIMEOUT_MS} ms) while 4 ordinary clients send whole requests`
    try {
      const slow = Array.from({ length: SLOW_CLIENTS }, (_, i) =>
        i % 2 === 0
          ? slowClient(server.port, 'POST /predict HTTP/1.1\r\nHost: x\r\n', 'X-Slow: aaaaaaaaaaaaaaaaaaaaaa\r\n')
          : slowClient(
              server.port,
              `POST /predict HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"text":"`,
              'abcdefgh',
            ),
      )
      const normal = await runLoad({
        concurrency: 4,
        stop: after(REQUEST_TIMEOUT_MS + 3000),
        send: () => status(`${server.url}/predict?text=a%20fine%20film`, { method: 'POST', headers: { 'x-api-key': key! } }),
      })
      const results = await Promise.all(slow)
      const cut = results.filter((r) => r.closedAfterMs < CUT_OFF_BOUND_MS)
      const answered408 = results.filter((r) => r.status === 408 && r.shaped)
      for (const [code, n] of Object.entries(normal.statuses)) report.count(`ordinary answers ${code}`, n)
      report.count('slow connections', results.length)
      report.count('cut off', cut.length)
      report.count('answered 408 in the documented shape', answered408.length)
      report.figure('slowest cut-off ms', Math.max(...results.map((r) => r.closedAfterMs)))
      assert.equal(cut.length, results.length, 'every slow connection was closed by the server')
      assert.deepEqual(
        results.filter((r) => r.status !== null && !(r.status === 408 && r.shaped)),
        [],
        'answers to slow clients are 408 in the documented shape',
      )
      assert.deepEqual(Object.keys(normal.statuses), ['200'], `ordinary clients were served: ${JSON.stringify(normal.statuses)}`)
      assert.ok(normal.answers > 10, 'ordinary clients got answers while the slow ones waited')
    } finally {
      await server.stopAndKeep()
    }
  })
})
