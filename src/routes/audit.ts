/**
 * `GET /v1/audit` (admin scope): the audit log, filtered by time, key, outcome and kind, in
 * sequence order, a page at a time (`after` = the last `seq` of the previous page).
 */
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { recordJson } from '../audit/json.js'
import { OUTCOMES, RECORD_KINDS } from '../audit/record.js'
import { reportJson, verifyChain } from '../audit/verify.js'
import { errors } from '../errors.js'
import { requirePrincipal } from '../http/ledger.js'
import { ErrorResponse, Nullable, SeqCursor, protectedErrors } from './common.js'
import { parseRange, rangeQuery } from './audit-query.js'
import { AuditRecordSchema } from './audit-schemas.js'

const AuditQuery = Type.Object(
  {
    ...rangeQuery,
    outcome: Type.Optional(Type.Enum(OUTCOMES)),
    kind: Type.Optional(Type.Enum(RECORD_KINDS)),
    after: Type.Optional(SeqCursor('Only records after this seq (the previous page’s next_after)', 0)),
    before: Type.Optional(SeqCursor('Only records before this seq (the previous page’s next_before, newest first)', 1)),
    order: Type.Enum(['asc', 'desc'], { default: 'asc', description: '`desc`: newest first, paged with `before`' }),
  },
  { additionalProperties: false },
)

const ExpectHead = Type.Optional(
  Type.String({ pattern: '^[0-9a-f]{64}$', description: 'A head hash kept elsewhere (`audit head`); it must still be in the chain' }),
)

/** `expect_head` may come in a JSON body too; any other field is refused (422), never ignored. */
const VerifyBody = Type.Union([Type.Object({ expect_head: ExpectHead }, { additionalProperties: false }), Type.Null()])

const VerifyQuery = Type.Object(
  {
    expect_head: ExpectHead,
  },
  { additionalProperties: false },
)

/** The report of `infergate audit verify --json`. */
const VerifyReportSchema = Type.Object({
  intact: Type.Boolean(),
  records: Type.Integer({ description: 'Records that check out (before the break, if any)' }),
  head: Type.Optional(
    Type.Object({
      seq: Type.Integer(),
      hash: Type.String(),
      time: Nullable(Type.String({ format: 'date-time', description: 'the last record’s time, ISO 8601' })),
    }),
  ),
  break: Type.Optional(
    Type.Object({
      seq: Type.Integer({ description: 'The first sequence number where the chain is broken' }),
      kind: Type.Enum(['edited', 'deleted', 'inserted', 'reordered', 'truncated']),
      explanation: Type.String(),
    }),
  ),
})

const AuditPage = Type.Object({
  records: Type.Array(AuditRecordSchema),
  next_after: Nullable(Type.Integer({ description: 'Pass as `after` for the next page; null on the last page (and with order=desc)' })),
  next_before: Nullable(
    Type.Integer({ description: 'order=desc: pass as `before` for the next (older) page; null on the last page (and with order=asc)' }),
  ),
})

export default async function auditRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { auditStore, clock, webhookEvents } = app.services

  app.get(
    '/v1/audit',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Read the audit log (admin)',
        description:
          'Records in sequence order (newest first with order=desc). Filters combine; page with `limit` and `after` (`before` with order=desc).',
        querystring: AuditQuery,
        response: { 200: AuditPage, ...protectedErrors, 422: ErrorResponse },
      },
    },
    async (request) => {
      const { key, outcome, kind, after, before, order, limit } = request.query
      const filter = { ...parseRange(request.query, clock.now()), keyId: key, outcome, kind, afterSeq: after, beforeSeq: before }
      const records = await auditStore.list(filter, limit + 1, order)
      const page = records.slice(0, limit)
      const next = records.length > limit ? page[page.length - 1]!.seq : null
      return {
        records: page.map(recordJson),
        next_after: order === 'asc' ? next : null,
        next_before: order === 'desc' ? next : null,
      }
    },
  )
  app.post(
    '/v1/audit/verify',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Verify the audit chain (admin)',
        description: 'Re-walks the hash chain and names the first break, as `infergate audit verify --json` does.',
        querystring: VerifyQuery,
        body: VerifyBody,
        response: { 200: VerifyReportSchema, ...protectedErrors, 422: ErrorResponse },
      },
    },
    async (request) => {
      const inBody = request.body?.expect_head
      if (inBody !== undefined && request.query.expect_head !== undefined && inBody !== request.query.expect_head)
        throw errors.validation([{ loc: ['body', 'expect_head'], msg: 'differs from expect_head in the query', type: 'value_error' }])
      const report = await verifyChain(auditStore, { expectHead: inBody ?? request.query.expect_head })
      await webhookEvents.verified(report, requirePrincipal(request).keyId)
      return reportJson(report)
    },
  )
}
