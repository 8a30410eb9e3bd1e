/**
 * `GET /v1/models`: the models the calling key may use. Where a model was loaded from is shown
 * to admin keys only (it is a path on the server).
 */
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { mayUse } from '../models/access.js'
import { protectedErrors } from './common.js'
import { requirePrincipal } from '../http/ledger.js'

const ModelView = Type.Object({
  name: Type.String(),
  task: Type.Literal('text-classification'),
  labels: Type.Array(Type.String()),
  max_length: Type.Union([Type.Integer(), Type.Null()], { description: 'Longest input in tokens, when the model has a limit' }),
  multi_label: Type.Boolean({
    description: 'Scores are independent per-label probabilities (sigmoid) that need not sum to 1, not a distribution over the labels',
  }),
  source: Type.Union([Type.Literal('builtin'), Type.Literal('huggingface')]),
  path: Type.Optional(Type.String({ description: 'The folder it was loaded from (admin keys only)' })),
  default: Type.Boolean({ description: 'Whether POST /predict uses it' }),
})

export default async function modelRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { models } = app.services

  app.get(
    '/v1/models',
    {
      config: { cost: () => 0 },
      schema: {
        tags: ['models'],
        summary: 'The models this key may use',
        response: { 200: Type.Object({ models: Type.Array(ModelView) }), ...protectedErrors },
      },
    },
    (request) => {
      const principal = requirePrincipal(request)
      const admin = principal.scopes.includes('admin')
      const defaultName = models.default.info.name
      return {
        models: models
          .list()
          .filter((info) => mayUse(principal, info.name))
          .map((info) => ({
            name: info.name,
            task: info.task,
            labels: info.labels,
            max_length: info.maxLength ?? null,
            multi_label: info.multiLabel ?? false,
            source: info.source === 'builtin' ? ('builtin' as const) : ('huggingface' as const),
            ...(admin && info.source !== 'builtin' ? { path: info.source } : {}),
            default: info.name === defaultName,
          })),
      }
    },
  )
}
