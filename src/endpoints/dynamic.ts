import { LRUCache } from 'lru-cache'
import type { DynamicEndpointConfig, HttpEndpointConfig } from './schema.ts'
import { EndpointError, type BackendResponse, type Endpoint, type EndpointStatus, type Exchange } from '../core/endpoint.ts'
import { HttpEndpoint } from './http.ts'
import { TargetGuard, TargetRefused } from './target-guard.ts'

/** The target was the client's choice (or its absence the API's), so the reason is safe to show the client. */
const NO_TARGET = 'the IN sequence set no target; add a setTarget mediator'

/**
 * A leaf whose address the IN sequence sets per request (`exchange.target`). Each allowed origin gets an http
 * endpoint of its own (the same transport, timeouts and pool settings as a static one); at most `maxOrigins`
 * stay open, the least recently used closing first, so many distinct targets cannot exhaust memory or sockets.
 * The target is a base URL: the request's path below the API (after any rewrite) and its query are appended,
 * as WSO2 appends the REST URL postfix to the `To` address.
 */
export class DynamicEndpoint implements Endpoint {
  readonly id: string
  readonly isPrototype = false
  readonly #config: DynamicEndpointConfig
  /** What every origin's http endpoint is built from: the leaf fields (timeouts, pool, TLS) without the allow-list. */
  readonly #leafConfig: Omit<HttpEndpointConfig, 'type' | 'url'>
  readonly #guard: TargetGuard
  readonly #origins: LRUCache<string, HttpEndpoint>
  readonly #closing = new Set<Promise<void>>()
  #sent = 0
  #refused = 0
  #closed = false

  constructor(id: string, config: DynamicEndpointConfig) {
    this.id = id
    this.#config = config
    const { type: _type, allow: _allow, allowLinkLocal: _linkLocal, allowAdminPort: _adminPort, maxOrigins: _maxOrigins, ...leafConfig } = config
    this.#leafConfig = { ...leafConfig, http2: false }
    this.#guard = new TargetGuard(config)
    this.#origins = new LRUCache({
      max: config.maxOrigins,
      // An evicted origin's pool finishes its requests in flight, then closes.
      dispose: (endpoint) => {
        const closing = endpoint.close().finally(() => this.#closing.delete(closing))
        this.#closing.add(closing)
      },
    })
  }

  async send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    // A closed endpoint must not open pools that nothing would close.
    if (this.#closed) throw new EndpointError('unavailable', this.id, `${this.id} is closed`)
    const target = exchange.target
    if (!target) {
      this.#refused++
      throw new EndpointError('no-target', this.id, `${this.id}: ${NO_TARGET}`, { reason: NO_TARGET })
    }
    let checked
    try {
      checked = this.#guard.check(target)
    } catch (error) {
      if (!(error instanceof TargetRefused)) throw error
      this.#refused++
      throw new EndpointError('target-refused', this.id, `${this.id}: ${error.message}`, { reason: error.message })
    }
    this.#sent++
    try {
      return await this.#endpoint(checked.origin, checked.port).send(targetExchange(exchange, checked), signal)
    } catch (error) {
      // A host name that resolved to a protected address: the connection's lookup refused it, and the http
      // endpoint classified that as a connection failure.
      if (error instanceof EndpointError && error.cause instanceof TargetRefused) {
        this.#refused++
        throw new EndpointError('target-refused', this.id, `${this.id}: ${error.cause.message}`, { reason: error.cause.message })
      }
      throw error
    }
  }

  /** The path and query sent to the target (what Digest signs); the exchange's own when no target is allowed. */
  targetPath(exchange: Exchange): string {
    let target: Exchange = exchange
    try {
      if (exchange.target) target = targetExchange(exchange, this.#guard.check(exchange.target))
    } catch (error) {
      if (!(error instanceof TargetRefused)) throw error
    }
    return target.query ? `${target.path}?${target.query}` : target.path || '/'
  }

  #endpoint(origin: string, port: number): HttpEndpoint {
    let endpoint = this.#origins.get(origin)
    if (!endpoint) {
      endpoint = new HttpEndpoint(this.id, { ...this.#leafConfig, type: 'http', url: origin }, { lookup: this.#guard.lookupFor(port) })
      this.#origins.set(origin, endpoint)
    }
    return endpoint
  }

  ready(): boolean {
    return !this.#closed
  }

  describe(): EndpointStatus {
    return {
      id: this.id,
      type: 'dynamic',
      state: this.#closed ? 'closed' : 'active',
      origins: this.#origins.size,
      maxOrigins: this.#config.maxOrigins,
      sent: this.#sent,
      refused: this.#refused,
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#origins.clear()
    await Promise.all(this.#closing)
  }
}

/** The exchange as the target's origin sees it: the target's path before the request's, queries merged. */
function targetExchange(exchange: Exchange, target: { basePath: string; query: string }): Exchange {
  const query = target.query && exchange.query ? `${target.query}&${exchange.query}` : target.query || exchange.query
  return { ...exchange, path: `${target.basePath}${exchange.path}`, query }
}
