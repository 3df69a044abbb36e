import type { IncomingHttpHeaders } from 'node:http'
import type { BackendResponse, Exchange } from '../core/endpoint.ts'
import type { ApiFilter, FilterStop } from '../core/filter.ts'
import { flatHeader } from '../core/headers.ts'
import type { CorsConfig } from './schema.ts'

/**
 * CORS at the gateway, as WSO2's `corsConfiguration`: a preflight (OPTIONS with `Access-Control-Request-Method`)
 * is answered here, before consumer authentication (a browser sends no credentials with it); an allowed origin's
 * other responses get `Access-Control-Allow-Origin` and the rest on their way back.
 */
export class CorsFilter implements ApiFilter {
  readonly #anyOrigin: boolean
  readonly #origins: ReadonlySet<string>
  readonly #methods: ReadonlySet<string>
  readonly #allowMethods: string
  readonly #allowHeaders: string
  readonly #exposeHeaders: string
  readonly #credentials: boolean
  readonly #maxAge: string | undefined

  constructor(config: CorsConfig) {
    this.#anyOrigin = config.origins.includes('*')
    this.#origins = new Set(config.origins.map((origin) => origin.toLowerCase()))
    this.#methods = new Set(config.methods)
    this.#allowMethods = config.methods.join(', ')
    this.#allowHeaders = config.headers.join(', ')
    this.#exposeHeaders = config.exposeHeaders.join(', ')
    this.#credentials = config.credentials
    this.#maxAge = config.maxAge === undefined ? undefined : String(Math.floor(config.maxAge / 1000))
  }

  async request(exchange: Exchange): Promise<FilterStop | undefined> {
    if (exchange.method !== 'OPTIONS') return undefined
    const origin = flatHeader(exchange.headers, 'origin')
    const method = flatHeader(exchange.headers, 'access-control-request-method')
    if (origin === undefined || method === undefined) return undefined
    if (!this.#allows(origin) || !this.#methods.has(method.toUpperCase())) {
      return { code: 'CORS_NOT_ALLOWED', message: `The API's CORS policy does not allow ${method} from ${JSON.stringify(origin).slice(0, 200)}` }
    }
    const headers = [...this.#originHeaders(origin), 'access-control-allow-methods', this.#allowMethods, 'access-control-allow-headers', this.#allowHeaders]
    if (this.#maxAge !== undefined) headers.push('access-control-max-age', this.#maxAge)
    return { reply: { status: 204, headers, body: Buffer.alloc(0) } }
  }

  async response(exchange: Exchange, response: BackendResponse): Promise<undefined> {
    const origin = flatHeader(exchange.headers, 'origin')
    if (origin === undefined || !this.#allows(origin)) return undefined
    const headers = this.#originHeaders(origin)
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!
      const backend = response.headers[name]
      response.headers[name] = name === 'vary' && backend ? `${Array.isArray(backend) ? backend.join(', ') : backend}, Origin` : headers[i + 1]!
    }
    if (this.#exposeHeaders) response.headers['access-control-expose-headers'] = this.#exposeHeaders
    return undefined
  }

  /** A gateway error (a 401, a 503) to an allowed origin carries the CORS headers, so the script can read it. */
  readonly errorHeaders = (requestHeaders: IncomingHttpHeaders): readonly string[] => {
    const origin = requestHeaders.origin
    return origin !== undefined && this.#allows(origin) ? this.#originHeaders(origin) : []
  }

  #allows(origin: string): boolean {
    return this.#anyOrigin || this.#origins.has(origin.toLowerCase())
  }

  #originHeaders(origin: string): string[] {
    // A named origin is echoed, so caches must keep one answer per Origin.
    const headers = this.#anyOrigin ? ['access-control-allow-origin', '*'] : ['access-control-allow-origin', origin, 'vary', 'Origin']
    if (this.#credentials) headers.push('access-control-allow-credentials', 'true')
    return headers
  }
}
