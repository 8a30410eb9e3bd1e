/**
 * `GET /v1/models`: the models the calling key may use. Where a model was loaded from is shown
 * to admin keys only (a path on the server, or a remote model's URL); a remote model's
 * credential is never shown to anyone (infergate holds only the name of its variable).
 */
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { mayUse } from '../models/access.js'
import type { ModelInfo, UpstreamHealth } from '../models/types.js'
import { protectedErrors } from './common.js'
import { requirePrincipal } from '../http/ledger.js'
import { free } from '../accounting/costs.js'

const ModelView = Type.Object({
  name: Type.String(),
  task: Type.Literal('text-classification'),
  labels: Type.Array(Type.String()),
  max_length: Type.Union([Type.Integer(), Type.Null()], { description: 'Longest input in tokens, when the model has a limit' }),
  multi_label: Type.Boolean({
    description: 'Scores are independent per-label probabilities (sigmoid) that need not sum to 1, not a distribution over the labels',
  }),
  source: Type.Union([Type.Literal('builtin'), Type.Literal('huggingface'), Type.Literal('remote')]),
  protocol: Type.Optional(
    Type.Union([Type.Literal('seed'), Type.Literal('kserve-v2'), Type.Literal('hf-inference')], {
      description: 'For a remote model: the protocol infergate speaks to its server',
    }),
  ),
  available: Type.Optional(
    Type.Boolean({ description: "For a remote model: false while its server's circuit breaker is open (calls get 503)" }),
  ),
  path: Type.Optional(Type.String({ description: 'The folder it was loaded from (admin keys only)' })),
  url: Type.Optional(Type.String({ description: "A remote model's server URL (admin keys only)" })),
  default: Type.Boolean({ description: 'Whether POST /predict uses it' }),
  cost: Type.Integer({ minimum: 1, description: "Units of the key's and owner's limits one text costs on this model" }),
})

/** An LLM in OpenAI's list shape (`GET /v1/models` as the OpenAI SDKs read it). */
const OpenAiModel = Type.Object({
  id: Type.String(),
  object: Type.Literal('model'),
  created: Type.Integer({ description: 'Always 0: infergate does not know when the upstream model was made' }),
  owned_by: Type.String(),
})

/** Where the model comes from; its folder or URL for admin keys only. */
function origin(info: ModelInfo, admin: boolean, upstream: UpstreamHealth | undefined) {
  if (info.protocol) {
    return {
      source: 'remote' as const,
      protocol: info.protocol,
      available: upstream?.state() === 'closed',
      ...(admin && { url: info.source }),
    }
  }
  if (info.source === 'builtin') return { source: 'builtin' as const }
  return { source: 'huggingface' as const, ...(admin && { path: info.source }) }
}

export default async function modelRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { models, llms } = app.services

  app.get(
    '/v1/models',
    {
      config: { cost: free },
      schema: {
        tags: ['models'],
        summary: 'The models this key may use',
        description:
          "infergate's list (`models`) and, in the same answer, OpenAI's list shape (`object`, `data`) of the LLMs (`--llm`) this key may use, which the OpenAI SDKs read.",
        response: {
          200: Type.Object({ models: Type.Array(ModelView), object: Type.Literal('list'), data: Type.Array(OpenAiModel) }),
          ...protectedErrors,
        },
      },
    },
    (request) => {
      const principal = requirePrincipal(request)
      const admin = principal.scopes.includes('admin')
      const defaultName = models.default.info.name
      return {
        object: 'list' as const,
        data: llms
          .names()
          .filter((name) => mayUse(principal, name))
          .map((id) => ({ id, object: 'model' as const, created: 0, owned_by: 'infergate' })),
        models: models
          .list()
          .filter((info) => mayUse(principal, info.name))
          .map((info) => ({
            name: info.name,
            task: info.task,
            labels: info.labels,
            max_length: info.maxLength ?? null,
            multi_label: info.multiLabel ?? false,
            ...origin(info, admin, models.get(info.name)?.upstream),
            default: info.name === defaultName,
            cost: models.get(info.name)!.cost,
          })),
      }
    },
  )
}
