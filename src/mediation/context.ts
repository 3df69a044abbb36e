import type { BackendResponse, Exchange } from '../endpoints/endpoint.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { ExpressionScope } from './expression.ts'
import type { Payload } from './payload.ts'

/** An answer a `respond` mediator makes, in place of the backend's (IN flow) or over it (OUT flow). */
export interface Reply {
  status: number
  /** Flat name/value list. */
  headers: string[]
  body: Buffer
}

/** One run of a sequence over one message: the exchange, the response in the OUT flow, the parsed payload. */
export class MediationContext {
  readonly exchange: Exchange
  readonly response: BackendResponse | undefined
  readonly payload: Payload | undefined
  readonly logger: Logger
  reply: Reply | undefined = undefined
  #scope: ExpressionScope | undefined = undefined

  constructor(exchange: Exchange, response: BackendResponse | undefined, payload: Payload | undefined, logger: Logger) {
    this.exchange = exchange
    this.response = response
    this.payload = payload
    this.logger = logger
  }

  readonly property = (name: string): unknown => this.exchange.properties.get(name)

  /** What expressions see; built on first use and rebuilt after a mediator changes headers, path or query. */
  scope(): ExpressionScope {
    this.#scope ??= this.#buildScope()
    return this.#scope
  }

  /** Called by mediators that change what `scope()` shows. */
  changed(): void {
    this.#scope = undefined
  }

  #buildScope(): ExpressionScope {
    const exchange = this.exchange
    const headers: Record<string, string> = {}
    const list = exchange.headers
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i]!.toLowerCase()
      const value = list[i + 1]!
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
    }
    const query: Record<string, string> = {}
    if (exchange.query) {
      for (const [name, value] of new URLSearchParams(exchange.query)) query[name] ??= value
    }
    const response = this.response
    return {
      request: {
        method: exchange.method,
        path: exchange.path,
        query,
        headers,
        uriVariables: exchange.uriVariables,
        client: exchange.client,
      },
      response: response ? { status: response.status, headers: flattenResponseHeaders(response.headers) } : {},
      properties: exchange.properties,
      api: { name: exchange.route.apiName, version: exchange.route.apiVersion, uriTemplate: exchange.route.uriTemplate },
      environment: exchange.environment,
    }
  }
}

function flattenResponseHeaders(headers: BackendResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name in headers) {
    const value = headers[name]
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}
