/** Shared by the remote-model tests: polling, a log that can be read back, audit records by request id. */
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { AuditRecord } from '../../src/audit/record.js'
import { createLogger } from '../../src/logger.js'

/** Polls until `check` holds; the bound only keeps a broken test from hanging, it is not what is tested. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** An info-level logger whose lines are kept, to search them for secrets. */
export function capturedLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  return { logger: createLogger('info', stream), lines }
}

/** The request records of these request ids, once the audit buffer is written. */
export async function auditRecords(app: FastifyInstance, requestIds: readonly string[]): Promise<AuditRecord[]> {
  await app.services.audit!.flush()
  return (await app.services.auditStore.list({ kind: 'request' }, 1_000_000)).filter((r) => requestIds.includes(r.requestId!))
}

/** `POST /v1/models/{model}/predict` with one text; the answer, its status and its error code (if any). */
export async function predictText(app: FastifyInstance, key: string, model: string, text = 'fine', headers: Record<string, string> = {}) {
  const response = await app.inject({
    method: 'POST',
    url: `/v1/models/${model}/predict`,
    headers: { 'x-api-key': key, ...headers },
    payload: { text },
  })
  return { response, status: response.statusCode, code: response.json<{ code?: string }>().code }
}
