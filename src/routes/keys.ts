/**
 * The admin key API (scope `admin`): create, list, read, change, rotate and revoke keys. The
 * key itself appears once, in the answer that creates it; every change is an audit record
 * naming the acting key. See docs/keys.md.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { AppError, ErrorCode, errors } from '../errors.js'
import type { ChangeRefusal } from '../keys/refusals.js'
import { changeRefusalMessage, changedOrThrow } from '../keys/refusals.js'
import type { ApiKeyRecord, KeyUpdate } from '../keys/types.js'
import { KEY_STATUSES, SCOPES } from '../keys/types.js'
import { keyView, limitStateView } from '../keys/view.js'
import { requirePrincipal } from '../http/ledger.js'
import { ErrorResponse, NO_CONTROLS, Offset, protectedErrors } from './common.js'
import { keyLimitsEdit } from '../ratelimit/limit-edit.js'
import {
  expiryInput,
  graceInput,
  limitEditGuard,
  limitsChangeInput,
  limitsInput,
  metadataInput,
  modelsInput,
  allowedIpsInput,
  creditsChangeInput,
  creditsGuard,
  creditsInput,
  nameInput,
} from './key-input.js'
import {
  CreatedKeyObject,
  KeyId,
  KeyObject,
  LimitStateView,
  LimitsInput,
  Metadata,
  Models,
  AllowedIps,
  Concurrency,
  AddCredits,
  CreditsInput,
  OwnerId,
  RemoveLimitsInput,
  Scopes,
  SetLimitsInput,
  adminErrors,
  conflictError,
} from './key-schemas.js'

const IdParams = Type.Object({ id: KeyId })
const admin = { scope: 'admin' as const }

/** The 404 or 409 of a refused change. */
function refusalError(id: string, reason: ChangeRefusal): AppError {
  const sentence = changeRefusalMessage(id, reason)
  const detail = sentence.charAt(0).toUpperCase() + sentence.slice(1)
  return reason === 'not_found' ? errors.notFound(detail) : new AppError(ErrorCode.Conflict, detail)
}

export default async function keyRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { keys, clock, limiter, models, tokens } = app.services
  const knownModels = () => models.list().map((model) => model.name)
  const view = (record: ApiKeyRecord) => keyView(record, clock.now())
  const actor = (request: FastifyRequest) => requirePrincipal(request).keyId

  app.post(
    '/v1/keys',
    {
      config: admin,
      schema: {
        tags: ['keys'],
        summary: 'Create a key (admin); the key is in this answer only',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            owner: OwnerId,
            scopes: Type.Optional(Scopes),
            models: Type.Optional(Models),
            allowed_ips: Type.Optional(AllowedIps),
            concurrency: Type.Optional(Concurrency),
            limits: Type.Optional(LimitsInput),
            credits: Type.Optional(CreditsInput),
            expires_at: Type.Optional(
              Type.Union([Type.String({ maxLength: 40, description: 'ISO 8601 time in the future' }), Type.Null()]),
            ),
            expires_in: Type.Optional(Type.String({ maxLength: 20, description: 'A duration from now, e.g. 30d' })),
            metadata: Type.Optional(Metadata),
          },
          { additionalProperties: false },
        ),
        response: { 201: CreatedKeyObject, ...protectedErrors, 422: adminErrors[422] },
      },
    },
    async (request, reply) => {
      const body = request.body
      const created = await keys.create(
        {
          name: nameInput(body.name),
          owner: body.owner,
          scopes: body.scopes ? [...body.scopes].sort() : ['predict'],
          models: modelsInput(body.models ?? null, knownModels()),
          allowedIps: allowedIpsInput(body.allowed_ips ?? null),
          concurrency: body.concurrency ?? null,
          limits: limitsInput(body.limits ?? null),
          credits: creditsInput(body.credits),
          expiresAt: expiryInput(body, clock.now()) ?? null,
          metadata: metadataInput(body.metadata ?? null),
        },
        actor(request),
      )
      return reply
        .code(201)
        .header('location', `/v1/keys/${created.record.id}`)
        .send({ ...view(created.record), key: created.key })
    },
  )

  app.get(
    '/v1/keys',
    {
      config: admin,
      schema: {
        tags: ['keys'],
        summary: 'List keys, newest first (admin)',
        querystring: Type.Object(
          {
            owner: Type.Optional(OwnerId),
            status: Type.Optional(Type.Enum(KEY_STATUSES)),
            scope: Type.Optional(Type.Enum(SCOPES)),
            q: Type.Optional(
              Type.String({
                maxLength: 100,
                pattern: NO_CONTROLS,
                description: 'A substring of the name, or the start of a key (igk_AbC…)',
              }),
            ),
            offset: Offset,
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ keys: Type.Array(KeyObject), total: Type.Integer(), next_offset: Type.Union([Type.Integer(), Type.Null()]) }),
          ...protectedErrors,
          422: adminErrors[422],
        },
      },
    },
    async (request) => {
      const { offset, limit, ...filter } = request.query
      const page = await keys.page(filter, offset, limit)
      return { keys: page.keys.map(view), total: page.total, next_offset: offset + limit < page.total ? offset + limit : null }
    },
  )

  app.get(
    '/v1/keys/:id',
    {
      config: admin,
      schema: {
        tags: ['keys'],
        summary: 'A key, with what is left of its limits and its owner’s, in requests and in LLM tokens (admin)',
        params: IdParams,
        response: {
          200: Type.Object({ ...KeyObject.properties, limit_state: Type.Array(LimitStateView) }),
          ...protectedErrors,
          404: adminErrors[404],
        },
      },
    },
    async (request) => {
      const key = await keys.getWithLimits(request.params.id)
      if (!key) throw refusalError(request.params.id, 'not_found')
      const { record, principal, groups } = key
      // The key's rules, then the owner's: requests, then tokens (read without charging).
      const [requestState, tokenState] = await Promise.all([limiter.peek(groups), tokens.peek(principal)])
      const limitState = [
        ...limitStateView(groups, requestState, 'requests'),
        ...limitStateView(tokenState.groups, tokenState.decision, 'tokens'),
      ]
      return { ...view(record), limit_state: limitState }
    },
  )

  app.patch(
    '/v1/keys/:id',
    {
      config: admin,
      schema: {
        tags: ['keys'],
        summary:
          'Change a key: name, scopes, models, allowed addresses, concurrency cap, limits (replace all, or set and remove some), credits (set, add, refill, remove), expiry, metadata, enabled (admin)',
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            scopes: Type.Optional(Scopes),
            models: Type.Optional(Models),
            allowed_ips: Type.Optional(AllowedIps),
            concurrency: Type.Optional(Concurrency),
            limits: Type.Optional(LimitsInput),
            set_limits: Type.Optional(SetLimitsInput),
            remove_limits: Type.Optional(RemoveLimitsInput),
            credits: Type.Optional(CreditsInput),
            add_credits: Type.Optional(AddCredits),
            expires_at: Type.Optional(Type.Union([Type.String({ maxLength: 40 }), Type.Null()], { description: 'null: never expires' })),
            metadata: Type.Optional(Metadata),
            enabled: Type.Optional(Type.Boolean({ description: 'false: disable (refused until enabled again)' })),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: KeyObject, ...protectedErrors, ...adminErrors, ...conflictError },
      },
    },
    async (request) => {
      const body = request.body
      const changes: KeyUpdate = {}
      if (body.name !== undefined) changes.name = nameInput(body.name)
      if (body.scopes !== undefined) changes.scopes = [...body.scopes].sort()
      if (body.models !== undefined) changes.models = modelsInput(body.models, knownModels())
      if (body.allowed_ips !== undefined) changes.allowedIps = allowedIpsInput(body.allowed_ips)
      if (body.concurrency !== undefined) changes.concurrency = body.concurrency
      const limits = limitsChangeInput(body, keyLimitsEdit)
      if (limits !== undefined) changes.limits = limits
      if (body.expires_at !== undefined) changes.expiresAt = expiryInput({ expires_at: body.expires_at }, clock.now())
      if (body.metadata !== undefined) changes.metadata = metadataInput(body.metadata)
      if (body.enabled !== undefined) changes.disabled = !body.enabled
      const credits = creditsChangeInput(body)
      if (credits !== undefined) changes.credits = credits
      const result = await creditsGuard(() => limitEditGuard(() => keys.update(request.params.id, changes, actor(request))))
      return view(changedOrThrow(request.params.id, result, refusalError))
    },
  )

  app.post(
    '/v1/keys/:id/rotate',
    {
      config: admin,
      schema: {
        tags: ['keys'],
        summary: 'Replace a key by a new one with the same settings; the old one works until the grace period ends (admin)',
        params: IdParams,
        body: Type.Object(
          {
            grace: Type.String({
              maxLength: 20,
              default: '24h',
              description: 'How long the old key keeps working: 0 (at once) to 30d; default 24h',
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ ...CreatedKeyObject.properties, previous: KeyObject }),
          ...protectedErrors,
          ...adminErrors,
          ...conflictError,
        },
      },
    },
    async (request, reply) => {
      const grace = graceInput(request.body.grace)
      const { created, previous } = changedOrThrow(
        request.params.id,
        await keys.rotate(request.params.id, grace, actor(request)),
        refusalError,
      )
      return reply
        .code(201)
        .header('location', `/v1/keys/${created.record.id}`)
        .send({ ...view(created.record), key: created.key, previous: view(previous) })
    },
  )

  app.delete(
    '/v1/keys/:id',
    {
      config: admin,
      schema: {
        tags: ['keys'],
        summary: 'Revoke a key for good (admin); revoking a revoked key changes nothing',
        params: IdParams,
        response: {
          200: KeyObject,
          ...protectedErrors,
          404: adminErrors[404],
          409: { ...ErrorResponse, description: 'The last active admin key (`conflict`)' },
        },
      },
    },
    async (request) => {
      const id = request.params.id
      const result = await keys.revoke(id, actor(request))
      if (!result.ok && result.reason === 'revoked') return view((await keys.get(id))!)
      return view(changedOrThrow(id, result, refusalError))
    },
  )
}
