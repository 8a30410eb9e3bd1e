/**
 * A path that exists with other methods answers `405 {"detail": "Method Not Allowed"}` with
 * `Allow`, as FastAPI does (`GET /predict` is `405`, `Allow: POST`), instead of 404. Unknown
 * paths stay 404. Routes are recorded as they are added, so this plugin is registered before any
 * route; its hook runs only for requests Fastify found no route for, and before any key is
 * asked for, as in FastAPI, whose routing comes before its dependencies.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, ErrorCode } from '../errors.js'
import { AllowedMethods } from '../http/allowed-methods.js'

async function methodNotAllowed(app: FastifyInstance): Promise<void> {
  const allowed = new AllowedMethods()
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat()
    // Fastify answers HEAD for every GET route unless told not to.
    if (methods.includes('GET') && route.exposeHeadRoute !== false) methods.push('HEAD')
    allowed.add(route.url, methods)
  })

  app.addHook('onRequest', (request, _reply, done) => {
    if (!request.is404) return done()
    const methods = allowed.of(request.url.split('?', 1)[0]!)
    if (methods.length === 0) return done()
    done(new AppError(ErrorCode.MethodNotAllowed, 'Method Not Allowed', { headers: { allow: methods.join(', ') } }))
  })
}

export default fp(methodNotAllowed, { name: 'method-not-allowed' })
