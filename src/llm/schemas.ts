/**
 * The request bodies of the OpenAI-compatible routes, as far as infergate reads them: the model,
 * what is counted for the reservation, and what changes the answer's shape (`stream`). Every
 * other field (temperature, tools, response_format…) goes to the upstream as sent.
 */
import { Type } from 'typebox'
import type { Static } from 'typebox'
import { NO_CONTROLS } from '../routes/common.js'

const Model = Type.String({ minLength: 1, maxLength: 256, pattern: NO_CONTROLS, description: 'A model registered with --llm' })
const MaxTokens = Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Most tokens of each answer (default --llm-max-tokens)' })
const Choices = Type.Integer({ minimum: 1, maximum: 128, description: 'Answers per prompt; each is reserved max_tokens' })
const StreamOptions = Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }), Type.Null()])
const TokenIds = Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1, maxItems: 1_000_000 })
const Input = Type.Union([
  Type.String({ maxLength: 10_000_000 }),
  Type.Array(Type.String({ maxLength: 10_000_000 }), { minItems: 1, maxItems: 4096 }),
  TokenIds,
  Type.Array(TokenIds, { minItems: 1, maxItems: 4096 }),
])
const Part = Type.Object({ type: Type.String({ maxLength: 64 }) }, { additionalProperties: true })
const Message = Type.Object(
  {
    role: Type.String({ minLength: 1, maxLength: 64, pattern: NO_CONTROLS }),
    content: Type.Optional(Type.Union([Type.String(), Type.Array(Part, { maxItems: 4096 }), Type.Null()])),
  },
  { additionalProperties: true },
)
const generation = {
  model: Model,
  max_tokens: Type.Optional(MaxTokens),
  n: Type.Optional(Choices),
  stream: Type.Optional(Type.Boolean()),
  stream_options: Type.Optional(StreamOptions),
}

export const ChatBody = Type.Object(
  {
    ...generation,
    messages: Type.Array(Message, { minItems: 1, maxItems: 4096 }),
    max_completion_tokens: Type.Optional(MaxTokens),
  },
  { additionalProperties: true },
)
export const CompletionBody = Type.Object({ ...generation, prompt: Input, best_of: Type.Optional(Choices) }, { additionalProperties: true })
export const EmbeddingBody = Type.Object({ model: Model, input: Input }, { additionalProperties: true })

export type ChatRequest = Static<typeof ChatBody>
export type CompletionRequest = Static<typeof CompletionBody>
export type EmbeddingRequest = Static<typeof EmbeddingBody>
