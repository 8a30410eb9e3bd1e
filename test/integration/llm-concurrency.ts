/**
 * 200 LLM requests at once, spread over instances and keys, for the tests that a budget or a
 * balance stays exact under concurrency: every 429 must carry the refusal's code (and OpenAI
 * type) expected, and the answers are counted by status.
 */
import assert from 'node:assert/strict'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

export interface Refusal {
  code: string
  type: string
}

export async function run200(
  apps: readonly FastifyInstance[],
  keys: readonly string[],
  send: (app: FastifyInstance, key: string) => Promise<LightMyRequestResponse>,
  refusal: Refusal,
): Promise<{ ok: number; refused: number; other: number[] }> {
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => send(apps[i % apps.length]!, keys[i % keys.length]!)))
  for (const answer of answers.filter((a) => a.statusCode === 429)) {
    const { error } = answer.json<{ error: Refusal }>()
    assert.deepEqual([error.code, error.type], [refusal.code, refusal.type])
    // Over a limit, the SDKs wait Retry-After; a balance without a refill has none to give.
    if (refusal.code === 'rate_limited') assert.ok(Number(answer.headers['retry-after']) >= 1)
  }
  const statuses = answers.map((answer) => answer.statusCode)
  return {
    ok: statuses.filter((s) => s === 200).length,
    refused: statuses.filter((s) => s === 429).length,
    other: statuses.filter((s) => s !== 200 && s !== 429),
  }
}
