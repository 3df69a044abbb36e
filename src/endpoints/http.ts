import type { LookupFunction } from 'node:net'
import type { Dispatcher, Pool } from 'undici'
import type { HttpEndpointConfig } from './schema.ts'
import { UrlTemplate } from '../core/uri-template.ts'
import { tlsConnectOptions } from '../security/tls.ts'
import type { BackendResponse, Endpoint, EndpointStatus, Exchange } from '../core/endpoint.ts'
import { classifyFailure } from '../core/failure.ts'
import { acquirePool, releasePool } from './origin-pools.ts'
import { ResponseTimeoutPool } from './response-timeout-pool.ts'

const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i

function backendResponse(response: Dispatcher.ResponseData): BackendResponse {
  return { status: response.statusCode, headers: response.headers, body: response.body, trailers: response.trailers }
}

/** A REST backend behind one keep-alive connection pool. */
export class HttpEndpoint implements Endpoint {
  readonly id: string
  readonly isPrototype = false
  readonly #url: string
  readonly #pool: Pool
  readonly #shared: boolean
  readonly #template: UrlTemplate | undefined
  readonly #basePath: string
  readonly #baseQuery: string
  #sent = 0
  #failed = 0

  /** `transport.lookup` resolves host names for new connections (a dynamic endpoint checks the addresses there). */
  constructor(id: string, config: HttpEndpointConfig, transport: { lookup?: LookupFunction } = {}) {
    this.id = id
    this.#url = config.url
    const origin = ORIGIN.exec(config.url)![0]
    const pathAndQuery = config.url.slice(origin.length)
    const template = new UrlTemplate(pathAndQuery)
    this.#template = template.hasVariables ? template : undefined
    const queryAt = pathAndQuery.indexOf('?')
    const basePath = queryAt < 0 ? pathAndQuery : pathAndQuery.slice(0, queryAt)
    this.#basePath = basePath.endsWith('/') ? basePath.slice(0, -1) : basePath
    this.#baseQuery = queryAt < 0 ? '' : pathAndQuery.slice(queryAt + 1)
    const options: Pool.Options = {
      connect: { timeout: config.timeouts.connect, ...tlsConnectOptions(config.security?.tls, id), ...transport },
      headersTimeout: config.timeouts.response,
      bodyTimeout: config.timeouts.idle,
      keepAliveTimeout: config.pool.keepAlive,
      // A backend's Keep-Alive hint may shorten the idle time (it closes first), never lengthen it.
      keepAliveMaxTimeout: config.pool.keepAlive,
      ...(config.pool.connections ? { connections: config.pool.connections } : {}),
      // HTTP/2 is chosen by ALPN, so only an https:// backend speaks it; others stay on HTTP/1.1.
      ...(config.http2 ? { allowH2: true } : {}),
    }
    // Shared per origin only where sharing changes nothing: no connection cap (it is the endpoint's own), no TLS
    // options and no lookup (not plain data, so not comparable).
    this.#shared = !config.pool.connections && !config.security?.tls && !transport.lookup
    this.#pool = this.#shared ? acquirePool(new URL(origin).origin, options) : new ResponseTimeoutPool(new URL(origin).origin, options)
  }

  /** The path and query sent to the backend. */
  targetPath(exchange: Exchange): string {
    if (this.#template) {
      const expanded = this.#template.expand(exchange.uriVariables)
      if (!exchange.query) return expanded || '/'
      return `${expanded || '/'}${expanded.includes('?') ? '&' : '?'}${exchange.query}`
    }
    const path = `${this.#basePath}${exchange.path}` || '/'
    const query = this.#baseQuery && exchange.query ? `${this.#baseQuery}&${exchange.query}` : this.#baseQuery || exchange.query
    return query ? `${path}?${query}` : path
  }

  send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    this.#sent++
    // A promise chain with handlers made once, not an async function: one step fewer between the backend's
    // answer and the client, on every request.
    try {
      return this.#pool
        .request({
          method: exchange.method as 'GET',
          path: this.targetPath(exchange),
          headers: exchange.headers,
          body: exchange.body,
          signal,
          // undici closes the connection after every HEAD by default (a server might send a body anyway), which
          // opens a new backend connection per HEAD. `reset: false` keeps it only when the backend answers
          // `Connection: keep-alive` explicitly; otherwise undici still closes it.
          reset: exchange.method === 'HEAD' ? false : undefined,
        })
        .then(backendResponse, this.#fail)
    } catch (error) {
      return this.#fail(error)
    }
  }

  /** Counts a failed call and rejects with its kind. */
  readonly #fail = (error: unknown): Promise<never> => {
    this.#failed++
    return Promise.reject(classifyFailure(error, this.id))
  }

  ready(): boolean {
    return !this.#pool.closed && !this.#pool.destroyed
  }

  describe(): EndpointStatus {
    return { id: this.id, type: 'http', state: 'active', url: this.#url, sent: this.#sent, failed: this.#failed }
  }

  async close(): Promise<void> {
    await (this.#shared ? releasePool(this.#pool) : this.#pool.close())
  }
}
