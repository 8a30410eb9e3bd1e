/**
 * The OpenAPI document, generated from the route schemas, at `/openapi.json`, and an
 * interactive page at `/docs` where "Authorize" with a key makes the API callable.
 * Routes that need a key are marked with the API-key security schemes automatically.
 */
import type { FastifyInstance, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

interface OpenApiOptions {
  apiKeyHeader: string
  version: string
}

const DOCS_PREFIX = '/docs'

function markSecurity(route: RouteOptions): void {
  if (route.url.startsWith(DOCS_PREFIX)) {
    route.config = { ...route.config, public: true }
    return
  }
  if (route.config?.public === true) return
  route.schema = { ...route.schema, security: [{ ApiKeyHeader: [] }, { BearerAuth: [] }] }
}

async function openapi(app: FastifyInstance, options: OpenApiOptions): Promise<void> {
  app.addHook('onRoute', markSecurity)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'infergate',
        version: options.version,
        description:
          'AI models behind API keys. Send the key in the `' + options.apiKeyHeader + '` header or as `Authorization: Bearer <key>`.',
      },
      components: {
        securitySchemes: {
          ApiKeyHeader: { type: 'apiKey', in: 'header', name: options.apiKeyHeader },
          BearerAuth: { type: 'http', scheme: 'bearer', description: 'The same API key, as a bearer token.' },
        },
      },
    },
  })
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { persistAuthorization: false, tryItOutEnabled: true, displayRequestDuration: true },
  })
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, () => app.swagger())
}

export default fp(openapi, { name: 'openapi' })
