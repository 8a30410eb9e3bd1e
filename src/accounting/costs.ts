/**
 * What every operation costs, in units against the key's own limits and its owner's shared
 * limits, and when it is charged — the accounting table of docs/rate-limits.md, in code.
 *
 * | operation                                   | units                  | charged                          | given back when                          |
 * |---------------------------------------------|------------------------|----------------------------------|------------------------------------------|
 * | `POST /predict`, `/v1/models/{name}/predict` | model's cost per text  | after validation and the model   | the model's queue is full (503)          |
 * |                                             |                        | check, before the model runs     |                                          |
 * | `POST /v1/jobs`                             | the same, whole job    | at submission, all or nothing    | the job cannot be stored (caps, store)   |
 * | `GET`/`DELETE /v1/jobs…`, `GET /v1/models`   | 0                      | —                                | —                                        |
 * | every other authenticated request           | 1                      | after validation                 | —                                        |
 *
 * A request refused before its charge (no key, wrong scope, invalid input, unknown or
 * forbidden model, over a limit) costs nothing. The units that stay charged are the request's
 * `cost` in its audit record, which is what `GET /v1/usage` adds up.
 */
import type { FastifyRequest } from 'fastify'

/** A route's cost: units worked out after validation and before any work; throwing refuses at no cost. */
export type CostOf = (request: FastifyRequest) => number

/** Routes that cost nothing: reading and cancelling jobs (their texts were charged at submission), listing models. */
export const free: CostOf = () => 0

/** What a route costs when it names no cost. */
export const DEFAULT_COST = 1

/** Units for classifying `texts` texts on `model` (its cost per text: `--model NAME=PATH?cost=N`, `--builtin-model-cost`). */
export function textUnits(texts: number, model: { cost: number }): number {
  return texts * model.cost
}
