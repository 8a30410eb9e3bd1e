/** Schemas of the admin key and owner API, shared by `keys.ts` and `owners.ts`. */
import { Type } from 'typebox'
import { KEY_STATUSES, MAX_METADATA_BYTES, OWNER_ID_PATTERN, SCOPES } from '../keys/types.js'
import { ErrorResponse, NO_CONTROLS, Nullable } from './common.js'

const Time = Type.String({ format: 'date-time' })

export const OwnerId = Type.String({ pattern: OWNER_ID_PATTERN, description: 'External id of the owner: 1 to 255 of A-Z a-z 0-9 _ . -' })
export const KeyId = Type.String({ maxLength: 64, pattern: NO_CONTROLS, description: 'The key id (key_…)' })
export const Scopes = Type.Array(Type.Enum(SCOPES), { minItems: 1, maxItems: SCOPES.length, uniqueItems: true })
export const Models = Nullable(
  Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' }), {
    minItems: 1,
    maxItems: 100,
    uniqueItems: true,
    description: 'Models the key may use; null: all',
  }),
)
export const AllowedIps = Nullable(
  Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: NO_CONTROLS }), {
    minItems: 1,
    maxItems: 100,
    description: 'Addresses or CIDR ranges (10.0.0.0/8, 2001:db8::/32) the key may be used from; null: any address',
  }),
)
/** Most requests in flight at once; null: no cap. */
export const MAX_CONCURRENCY = 100_000
export const Concurrency = Nullable(
  Type.Integer({
    minimum: 1,
    maximum: MAX_CONCURRENCY,
    description: 'Most requests in flight at once (429 concurrency_limited beyond); null: no cap',
  }),
)
export const LimitsInput = Nullable(
  Type.Array(Type.String({ maxLength: 64 }), {
    minItems: 1,
    maxItems: 20,
    description: 'Rules as on the CLI, e.g. ["60/1m", "burst=10/5s"]; null: the server defaults (keys) or none (owners)',
  }),
)
export const SetLimitsInput = Type.Array(Type.String({ maxLength: 64 }), {
  minItems: 1,
  maxItems: 20,
  description: 'Limits to add or change, keeping the others: each replaces the limit of the same name (60/1m is named minute) or is added',
})
export const RemoveLimitsInput = Type.Array(Type.String({ maxLength: 32, pattern: '^[a-z0-9][a-z0-9_-]{0,31}$' }), {
  minItems: 1,
  maxItems: 20,
  uniqueItems: true,
  description: 'Limits to drop, keeping the others: by name (day, burst) or window (1d); each must match a limit',
})
export const Metadata = Nullable(
  Type.Record(Type.String(), Type.Unknown(), {
    description: `A small JSON object of your own (at most ${MAX_METADATA_BYTES} bytes as JSON)`,
  }),
)

const CREDIT_AMOUNT = { minimum: 0, maximum: Number.MAX_SAFE_INTEGER }
const RefillInput = Type.Object(
  {
    amount: Type.Integer({ ...CREDIT_AMOUNT, minimum: 1, description: 'What the balance is set back to at each refill' }),
    every: Type.String({ maxLength: 16, pattern: NO_CONTROLS, description: 'The refill period, e.g. 30d, 1h (1s to 3660d)' }),
  },
  { additionalProperties: false },
)
const CreditUnitSchema = Type.Union([Type.Literal('requests'), Type.Literal('tokens')], {
  description:
    'What the balance counts: requests (each request its cost in units) or tokens (LLM prompt + completion tokens, reserved before the call and settled to the usage). Absent: requests for a new balance, unchanged in an update',
})
export const CreditsInput = Type.Union(
  [
    Type.Object(
      {
        remaining: Type.Integer({ ...CREDIT_AMOUNT, description: 'Sets the balance' }),
        unit: Type.Optional(CreditUnitSchema),
        refill: Type.Optional(
          Type.Union([RefillInput, Type.Null()], {
            description: 'Sets the balance back to amount every period, counted from now; null: no refill. Absent in an update: unchanged',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    Type.Null(),
  ],
  { description: 'A credit balance the charges in its unit take from; null: none (unlimited)' },
)
export const AddCredits = Type.Integer({ ...CREDIT_AMOUNT, minimum: 1, description: 'Units added to the balance as it stands' })
export const CreditsView = Type.Union(
  [
    Type.Object({
      remaining: Type.Integer({ description: 'Units (requests or tokens) left now (the refill due counted)' }),
      unit: Type.Union([Type.Literal('requests'), Type.Literal('tokens')]),
      refill: Nullable(Type.Object({ amount: Type.Integer(), every: Type.String() })),
      next_refill_at: Nullable(Time),
    }),
    Type.Null(),
  ],
  { description: 'The credit balance; null: none (unlimited)' },
)

const RuleView = Type.Object({ name: Type.String(), limit: Type.Integer(), window: Type.String({ description: 'e.g. 1m, 1h, 1d' }) })

export const KeyObject = Type.Object({
  id: Type.String(),
  name: Type.String(),
  owner: Type.String(),
  prefix: Type.String({ description: 'The visible start of the key, never the key' }),
  scopes: Type.Array(Type.Enum(SCOPES)),
  models: Nullable(Type.Array(Type.String())),
  allowed_ips: Nullable(Type.Array(Type.String(), { description: 'CIDR ranges the key may be used from; null: any address' })),
  concurrency: Nullable(Type.Integer({ description: 'Most requests of the key in flight at once; null: no cap' })),
  limits: Nullable(Type.Array(RuleView)),
  credits: CreditsView,
  metadata: Nullable(Type.Record(Type.String(), Type.Unknown())),
  status: Type.Enum(KEY_STATUSES, { description: 'rotated: replaced by a rotation (accepted until grace_ends_at)' }),
  enabled: Type.Boolean(),
  created_at: Time,
  updated_at: Time,
  expires_at: Nullable(Time),
  revoked_at: Nullable(Time),
  last_used_at: Nullable(Time),
  grace_ends_at: Nullable(Time),
  rotated_to: Nullable(Type.String()),
})

export const CreatedKeyObject = Type.Object({
  ...KeyObject.properties,
  key: Type.String({ description: 'The key itself: shown only in this answer, never stored' }),
})

export const LimitStateView = Type.Object({
  subject: Type.Union([Type.Literal('key'), Type.Literal('owner')]),
  unit: Type.Union([Type.Literal('requests'), Type.Literal('tokens')], {
    description: 'What the rule counts: requests, or LLM tokens (`tokens-…` rules, `--llm-limit`, `--llm-owner-limit`)',
  }),
  name: Type.String(),
  limit: Type.Integer(),
  window: Type.String(),
  remaining: Type.Integer(),
  reset_seconds: Type.Integer(),
})

const UsageView = Type.Object({
  since: Time,
  requests: Type.Integer(),
  rejected: Type.Integer({ description: 'Requests refused for any reason' }),
  by_outcome: Type.Record(Type.String(), Type.Integer()),
})

export const OwnerObject = Type.Object({
  id: Type.String(),
  limits: Nullable(Type.Array(RuleView, { description: 'Shared by all the owner’s keys, on top of each key’s own' })),
  allowed_ips: Nullable(
    Type.Array(Type.String(), { description: 'CIDR ranges every key of the owner may be used from; null: any address' }),
  ),
  concurrency: Nullable(Type.Integer({ description: 'Most requests of all the owner’s keys in flight at once; null: no cap' })),
  credits: CreditsView,
  keys: Type.Array(KeyObject),
  usage: UsageView,
})

export const adminErrors = {
  404: { ...ErrorResponse, description: 'No such key or owner (`not_found`)' },
  422: { ...ErrorResponse, description: 'Invalid input (`validation_error`)' },
}
export const conflictError = {
  409: { ...ErrorResponse, description: 'Would leave no active admin key, or the key is revoked or rotated already (`conflict`)' },
}
