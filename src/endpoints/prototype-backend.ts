import { HttpEndpoint as HttpEndpointSchema, type PrototypeEndpointConfig } from './schema.ts'
import type { BackendResponse, Endpoint, EndpointStatus, Exchange } from '../core/endpoint.ts'
import { HttpEndpoint } from './http.ts'

/**
 * WSO2's Prototype endpoint: "a type of HTTP endpoint which can be used when prototyping an API". An `http`
 * endpoint's pool, URI template, timeouts and failure kinds, that serves an API only while it is CREATED or
 * PROTOTYPED; backend security and suspension wrap it as they wrap every leaf.
 */
export class PrototypeBackend implements Endpoint {
  readonly id: string
  readonly isPrototype = true
  readonly #http: HttpEndpoint

  constructor(id: string, config: PrototypeEndpointConfig & { url: string }) {
    this.id = id
    // Parsed rather than written out, so that fields the http type gains later get their defaults here too.
    const http = HttpEndpointSchema.parse({ type: 'http', url: config.url, timeouts: config.timeouts, pool: config.pool, security: config.security })
    this.#http = new HttpEndpoint(id, http)
  }

  send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    return this.#http.send(exchange, signal)
  }

  targetPath(exchange: Exchange): string {
    return this.#http.targetPath(exchange)
  }

  ready(): boolean {
    return this.#http.ready()
  }

  describe(): EndpointStatus {
    return { ...this.#http.describe(), type: 'prototype' }
  }

  close(): Promise<void> {
    return this.#http.close()
  }
}
