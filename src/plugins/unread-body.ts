/**
 * Every answer waits for the unread rest of its request's body (see `http/unread-body.ts`), so
 * that closing the connection cannot reset it before the client has read the answer.
 * (Answers to URLs the router cannot decode skip the hooks: `http/framework-errors.ts` does
 * the same.)
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { discardUnreadBody } from '../http/unread-body.js'

export interface UnreadBodyOptions {
  /** Bytes to read at most (the body size limit). */
  maxBytes: number
}

async function unreadBody(app: FastifyInstance, options: UnreadBodyOptions): Promise<void> {
  app.addHook('onSend', async (request) => {
    await discardUnreadBody(request.raw, options.maxBytes)
  })
}

export default fp(unreadBody, { name: 'unread-body' })
