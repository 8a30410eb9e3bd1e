/**
 * Every answer waits for the unread rest of its request's body (see `http/unread-body.ts`), so
 * that closing the connection cannot reset it before the client has read the answer.
 * (Answers to URLs the router cannot decode skip the hooks: `http/framework-errors.ts` does
 * the same.)
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { discardUnreadBody, hasUnreadBody } from '../http/unread-body.js'

interface UnreadBodyOptions {
  /** Bytes to read at most (the body size limit). */
  maxBytes: number
}

async function unreadBody(app: FastifyInstance, options: UnreadBodyOptions): Promise<void> {
  // A callback hook: nearly every request has nothing to wait for, and costs no promise.
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (!hasUnreadBody(request.raw, options.maxBytes)) return done(null, payload)
    void discardUnreadBody(request.raw, options.maxBytes).then(() => done(null, payload))
  })
}

export default fp(unreadBody, { name: 'unread-body' })
