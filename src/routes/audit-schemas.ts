/** The audit record as the API shows it: one schema for the routes, the OpenAPI document and the dashboard's types. */
import { Type } from 'typebox'
import { ADMIN_ACTIONS, OUTCOMES, RECORD_KINDS } from '../audit/record.js'
import { Nullable } from './common.js'

export const AuditRecordSchema = Type.Object({
  seq: Type.Integer({ description: 'Position in the chain, from 1' }),
  time: Type.String({ format: 'date-time' }),
  kind: Type.Enum(RECORD_KINDS),
  request_id: Nullable(Type.String()),
  key_id: Nullable(Type.String({ description: 'The calling key (requests) or the key acted upon (admin)' })),
  key_prefix: Nullable(Type.String({ description: 'The visible start of that key, never the key' })),
  ip: Nullable(Type.String()),
  method: Nullable(Type.String()),
  route: Nullable(Type.String()),
  model: Nullable(Type.String()),
  status: Nullable(Type.Integer()),
  outcome: Type.Enum(OUTCOMES),
  cost: Type.Integer(),
  latency_ms: Nullable(Type.Number()),
  texts: Nullable(Type.Integer({ description: 'Texts sent for prediction (the texts are not stored)' })),
  chars: Nullable(Type.Integer({ description: 'Their total length in characters' })),
  tokens_in: Type.Optional(
    Nullable(Type.Integer({ description: 'LLM requests: prompt tokens (reported by the upstream, else as reserved)' })),
  ),
  tokens_out: Type.Optional(Nullable(Type.Integer({ description: 'LLM requests: completion tokens (the same)' }))),
  action: Nullable(Type.String({ description: `Admin records: ${ADMIN_ACTIONS.join(', ')}` })),
  actor: Nullable(Type.String({ description: 'Admin records: cli, bootstrap, system or the acting key id' })),
  detail: Nullable(Type.Record(Type.String(), Type.Unknown())),
  prev_hash: Type.String(),
  hash: Type.String({ description: 'SHA-256(prev_hash ‖ canonical record)' }),
})
