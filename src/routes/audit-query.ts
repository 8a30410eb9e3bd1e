/** Query parameters shared by `/v1/audit` and `/v1/usage`: time range, key filter, page size. */
import { Type } from 'typebox'
import { errors } from '../errors.js'
import { TimeRangeError, parseTimeRange } from '../lib/instant.js'

const TimeParam = (what: string) =>
  Type.String({
    maxLength: 40,
    description: `${what}: an ISO 8601 date or date-time, epoch milliseconds, or a duration ago such as 24h`,
  })

export const rangeQuery = {
  since: Type.Optional(TimeParam('Records at or after this time')),
  until: Type.Optional(TimeParam('Records before this time')),
  key: Type.Optional(Type.String({ pattern: '^key_[0-9A-Za-z]{1,64}$', description: 'Only this key id' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Most items in this page' }),
}

/** `since`/`until` as milliseconds; a 422 naming the parameter when one is not a time. */
export function parseRange(query: { since?: string; until?: string }, now: number): { since?: number; until?: number } {
  try {
    return parseTimeRange(query, now)
  } catch (error) {
    if (!(error instanceof TimeRangeError)) throw error
    throw errors.validation([{ loc: ['query', error.param], msg: error.message, type: 'value_error' }])
  }
}
