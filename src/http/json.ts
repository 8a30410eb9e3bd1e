/**
 * The one JSON body parser: bodies must be valid UTF-8 (400 otherwise: silently replacing bytes
 * would classify a text the client did not send), and `__proto__`/`constructor.prototype` keys
 * are refused by the secure parser. An empty body counts as no body. Used on the main thread
 * (`plugins/json-body.ts`) and on the job-body worker (`jobs/body-worker.ts`).
 */
import { isUtf8 } from 'node:buffer'
import sjson from 'secure-json-parse'
import { AppError, ErrorCode } from '../errors.js'

export function parseJson(body: Uint8Array): unknown {
  if (body.length === 0) return undefined
  if (!isUtf8(body)) throw new AppError(ErrorCode.InvalidEncoding, 'Request body is not valid UTF-8')
  try {
    return sjson.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'), null, {
      protoAction: 'error',
      constructorAction: 'error',
    })
  } catch {
    throw new AppError(ErrorCode.InvalidJson, 'Invalid JSON body')
  }
}
