/**
 * Owners (scope `admin`): the keys of one owner, their usage over the last 24 hours, and the
 * limits they share (`PATCH`). An owner exists as soon as a key names it or limits are set.
 */
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { countsByKeySince, summarize } from '../audit/usage.js'
import { errors } from '../errors.js'
import { creditsView } from '../accounting/credits.js'
import { keyView, limitsView } from '../keys/view.js'
import { protectedErrors } from './common.js'
import { ownerLimitsEdit } from '../ratelimit/limit-edit.js'
import { allowedIpsInput, creditsChangeInput, creditsGuard, limitEditGuard, limitsChangeInput } from './key-input.js'
import {
  AddCredits,
  AllowedIps,
  Concurrency,
  CreditsInput,
  LimitsInput,
  OwnerId,
  OwnerObject,
  RemoveLimitsInput,
  SetLimitsInput,
  adminErrors,
} from './key-schemas.js'
import { requirePrincipal } from '../http/ledger.js'

const DAY_MS = 86_400_000
const IdParams = Type.Object({ id: OwnerId })

export default async function ownerRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { keys, clock, db } = app.services

  /** The owner object, or undefined when no key names it and no limits were ever set. */
  async function ownerView(id: string) {
    const [owner, records] = await Promise.all([keys.owner(id), keys.listByOwner(id)])
    if (!owner && records.length === 0) return undefined
    const now = clock.now()
    const since = now - DAY_MS
    const counts = await countsByKeySince(
      db.kysely,
      since,
      records.map((record) => record.id),
    )
    return {
      id,
      limits: limitsView(owner?.limits ?? null),
      allowed_ips: owner?.allowedIps ?? null,
      concurrency: owner?.concurrency ?? null,
      credits: creditsView(owner?.credits ?? null, now),
      keys: records.map((record) => keyView(record, now)),
      usage: { since: new Date(since).toISOString(), ...summarize(counts.values()) },
    }
  }

  app.get(
    '/v1/owners/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'An owner: its shared limits, its keys and their usage over the last 24 hours (admin)',
        params: IdParams,
        response: { 200: OwnerObject, ...protectedErrors, ...adminErrors },
      },
    },
    async (request) => {
      const owner = await ownerView(request.params.id)
      if (!owner) throw errors.notFound(`No key has the owner ${request.params.id} and it has no limits`)
      return owner
    },
  )

  app.patch(
    '/v1/owners/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['keys'],
        summary:
          'Set (or clear, with null) the limits shared by all of an owner’s keys, or set and remove some of them and keep the others; set (or clear) the addresses its keys may be used from and how many of their requests may be in flight at once; set, add to, refill or remove the credit balance its keys share (admin)',
        params: IdParams,
        body: Type.Object(
          {
            limits: Type.Optional(LimitsInput),
            set_limits: Type.Optional(SetLimitsInput),
            remove_limits: Type.Optional(RemoveLimitsInput),
            allowed_ips: Type.Optional(AllowedIps),
            concurrency: Type.Optional(Concurrency),
            credits: Type.Optional(CreditsInput),
            add_credits: Type.Optional(AddCredits),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: OwnerObject, ...protectedErrors, 422: adminErrors[422] },
      },
    },
    async (request) => {
      const actor = requirePrincipal(request).keyId
      const change = limitsChangeInput(request.body, ownerLimitsEdit)
      const allowedIps = request.body.allowed_ips === undefined ? undefined : allowedIpsInput(request.body.allowed_ips)
      const credits = creditsChangeInput(request.body)
      if (change !== undefined) await limitEditGuard(() => keys.setOwnerLimits(request.params.id, change, actor))
      if (allowedIps !== undefined) await keys.setOwnerAllowedIps(request.params.id, allowedIps, actor)
      if (request.body.concurrency !== undefined) await keys.setOwnerConcurrency(request.params.id, request.body.concurrency, actor)
      if (credits !== undefined) await creditsGuard(() => keys.setOwnerCredits(request.params.id, credits, actor))
      return (await ownerView(request.params.id))!
    },
  )
}
