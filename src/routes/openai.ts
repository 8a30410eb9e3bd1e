/**
 * The OpenAI-compatible routes: `POST /v1/chat/completions`, `/v1/completions` and
 * `/v1/embeddings`, relayed to the LLM server the body's `model` names (`--llm`). An OpenAI SDK
 * works with its `baseURL` set to `http://HOST:PORT/v1` and its `apiKey` to an infergate key
 * (sent as `Authorization: Bearer`). Errors come in OpenAI's shape (`llm/error-shape.ts`).
 *
 * The model is resolved (404 unknown, 403 not on the key's allow-list) before the request's
 * one unit of the request limits is charged; the tokens are reserved and settled by
 * `llm/call.ts`. `GET /v1/models` answers OpenAI's list shape alongside infergate's own
 * (`routes/models.ts`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { TSchema } from 'typebox'
import { AppError, ErrorCode } from '../errors.js'
import { requirePrincipal } from '../http/ledger.js'
import type { LlmCall } from '../llm/call.js'
import { runLlmCall } from '../llm/call.js'
import type { ChatRequest, CompletionRequest, EmbeddingRequest } from '../llm/schemas.js'
import { ChatBody, CompletionBody, EmbeddingBody } from '../llm/schemas.js'
import { chatPromptTokens, inputTokens, promptCount } from '../llm/tokens.js'
import type { LlmRegistry, LlmUpstream } from '../llm/upstream.js'
import { mayUse } from '../models/access.js'
import { ErrorResponse } from './common.js'

export interface OpenAiRoutesOptions {
  /** max_tokens sent (and reserved) when a request gives none. */
  defaultMaxTokens: number
}

/** The upstream a request names, if the key may use it; before any charge. */
function upstreamOf(llms: LlmRegistry, request: FastifyRequest): LlmUpstream {
  const upstream = llms.resolve((request.body as { model: string }).model)
  if (!mayUse(requirePrincipal(request), upstream.spec.name)) {
    throw new AppError(ErrorCode.ModelForbidden, `This API key may not use the model '${upstream.spec.name}'`)
  }
  return upstream
}

/** A slot on the upstream for one call by `keyId`, or the refusal (429 for the key's share, 503 for the server's). */
function takeSlot(upstream: LlmUpstream, keyId: string): () => void {
  const slot = upstream.slots.take(keyId)
  if ('release' in slot) return slot.release
  const retry = { headers: { 'retry-after': '1' } }
  if (slot.refused === 'key') {
    const share = upstream.slots.perKey
    throw new AppError(
      ErrorCode.ConcurrencyLimited,
      `This key already has ${share} calls in flight to '${upstream.spec.name}'; wait for one to finish.`,
      retry,
    )
  }
  throw new AppError(ErrorCode.ServerBusy, `'${upstream.spec.name}' has ${upstream.slots.max} calls in flight; try again shortly.`, retry)
}

/** `stream_options.include_usage` asked of the upstream whatever the client asked: the usage settles the reservation. */
function streamFields(body: { stream?: boolean; stream_options?: { include_usage?: boolean } | null }) {
  const stream = body.stream === true
  return {
    stream,
    clientWantsUsage: body.stream_options?.include_usage === true,
    upstreamFields: stream ? { stream_options: { ...body.stream_options, include_usage: true } } : {},
  }
}

function chatCall(upstream: LlmUpstream, body: ChatRequest, defaultMaxTokens: number): LlmCall {
  const { stream, clientWantsUsage, upstreamFields } = streamFields(body)
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? defaultMaxTokens
  const cap = body.max_completion_tokens === undefined ? { max_tokens: maxTokens } : {}
  return {
    endpoint: 'chat/completions',
    upstream,
    body: { ...body, model: upstream.spec.upstreamModel, ...cap, ...upstreamFields },
    promptTokens: chatPromptTokens(body, upstream.count),
    completionTokens: maxTokens * (body.n ?? 1),
    stream,
    clientWantsUsage,
    items: body.messages.length,
  }
}

function completionCall(upstream: LlmUpstream, body: CompletionRequest, defaultMaxTokens: number): LlmCall {
  const { stream, clientWantsUsage, upstreamFields } = streamFields(body)
  const maxTokens = body.max_tokens ?? defaultMaxTokens
  const prompts = promptCount(body.prompt)
  return {
    endpoint: 'completions',
    upstream,
    body: { ...body, model: upstream.spec.upstreamModel, max_tokens: maxTokens, ...upstreamFields },
    promptTokens: inputTokens(body.prompt, upstream.count),
    completionTokens: maxTokens * Math.max(body.n ?? 1, body.best_of ?? 1) * prompts,
    stream,
    clientWantsUsage,
    items: prompts,
  }
}

function embeddingCall(upstream: LlmUpstream, body: EmbeddingRequest): LlmCall {
  return {
    endpoint: 'embeddings',
    upstream,
    body: { ...body, model: upstream.spec.upstreamModel },
    promptTokens: inputTokens(body.input, upstream.count),
    completionTokens: 0,
    stream: false,
    clientWantsUsage: false,
    items: promptCount(body.input),
  }
}

const errors = {
  400: { ...ErrorResponse, description: 'The model server refused the request (`bad_request`)' },
  401: { ...ErrorResponse, description: 'No API key (`missing_api_key`)' },
  403: { ...ErrorResponse, description: "Invalid key, missing scope, or a model not on the key's allow-list (`model_forbidden`)" },
  404: { ...ErrorResponse, description: 'No LLM of that name (`model_not_found`)' },
  422: { ...ErrorResponse, description: 'Invalid field, or a reservation larger than a token limit (`validation_error`)' },
  429: {
    ...ErrorResponse,
    description:
      "Over a request or token limit (`rate_limited`), with Retry-After; the key already has its share of the LLM server's calls in flight (`concurrency_limited`, Retry-After: 1); or a credit balance (requests or tokens) too low (`quota_exhausted`, type `insufficient_quota`, with `x-should-retry: false`)",
  },
  502: { ...ErrorResponse, description: 'The model server failed (`upstream_error`)' },
  503: {
    ...ErrorResponse,
    description:
      'The model server cannot be reached, or its circuit breaker is open (`upstream_unavailable`, with Retry-After); or it has --llm max-concurrency calls in flight (`server_busy`, Retry-After: 1)',
  },
  504: { ...ErrorResponse, description: 'The model server did not answer in time (`upstream_timeout`)' },
}

export default async function openAiRoutes(fastify: FastifyInstance, options: OpenAiRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { llms, tokens, tokenCredits, meter, clock } = app.services
  const deps = { tokens, tokenCredits, meter, clock }
  // One unit of the request limits per call, charged once the model is known and allowed.
  const config = {
    openai: true,
    scope: 'predict' as const,
    cost: (request: FastifyRequest) => {
      // A server whose breaker is open, or with no slot for this key, is refused here: before any
      // charge, without a call. The slot (`llm/slots.ts`) goes back when the request finishes, however.
      const upstream = upstreamOf(llms, request)
      upstream.health.check()
      request.ledger.onFinished(takeSlot(upstream, requirePrincipal(request).keyId))
      return 1
    },
  }
  // The answer is the upstream's, relayed as it is (or a stream): no serializer reshapes it.
  const serializerCompiler = () => (data: unknown) => JSON.stringify(data)
  const schema = <B extends TSchema>(summary: string, body: B) => ({
    tags: ['openai'],
    summary,
    body,
    response: { 200: Type.Unknown({ description: "The upstream's answer, or Server-Sent Events with stream: true" }), ...errors },
  })

  app.post(
    '/v1/chat/completions',
    { config, serializerCompiler, schema: schema('OpenAI-compatible chat completion', ChatBody) },
    (request, reply) => runLlmCall(request, reply, chatCall(upstreamOf(llms, request), request.body, options.defaultMaxTokens), deps),
  )
  app.post(
    '/v1/completions',
    { config, serializerCompiler, schema: schema('OpenAI-compatible text completion', CompletionBody) },
    (request, reply) => runLlmCall(request, reply, completionCall(upstreamOf(llms, request), request.body, options.defaultMaxTokens), deps),
  )
  app.post(
    '/v1/embeddings',
    { config, serializerCompiler, schema: schema('OpenAI-compatible embeddings', EmbeddingBody) },
    (request, reply) => runLlmCall(request, reply, embeddingCall(upstreamOf(llms, request), request.body), deps),
  )
}
