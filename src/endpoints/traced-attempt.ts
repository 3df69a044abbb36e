import type { BackendResponse, Endpoint, Exchange } from '../core/endpoint.ts'
import { WSO2_ERROR_CODES } from '../core/error-codes.ts'
import { classifyFailure } from '../core/failure.ts'
import type { ExchangeTrace, TraceValue } from '../core/trace.ts'
import { Delegating, type Interceptor } from './interceptor.ts'

/** Every leaf's attempt span: outermost, so it covers the REST-to-SOAP bridge, the guard and backend credentials. */
export function tracedAttempt(config: { type: string; url?: unknown }): Interceptor {
  return (inner) => new TracedAttempt(inner, config)
}

/**
 * One client span per attempt on a leaf, named after the leaf; a group's retries are sibling spans under the
 * group's. A failed attempt carries its failure kind as `error.type` and the WSO2 error code, and the backend
 * gets this span as the parent in its `traceparent`. Untraced exchanges pass straight through.
 */
export class TracedAttempt extends Delegating {
  readonly #attributes: Readonly<Record<string, TraceValue>>

  constructor(inner: Endpoint, config: { type: string; url?: unknown }) {
    super(inner)
    const attributes: Record<string, TraceValue> = { 'portico.endpoint': inner.id, 'portico.endpoint.type': config.type }
    const url = typeof config.url === 'string' ? URL.parse(config.url) : null
    if (url) {
      attributes['server.address'] = url.hostname.replace(/^\[|\]$/g, '')
      attributes['server.port'] = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
    }
    this.#attributes = attributes
  }

  send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    const trace = exchange.trace
    if (trace === undefined) return this.inner.send(exchange, signal)
    const span = trace.begin(`${exchange.method} ${this.id}`, 'client', this.#attributes)
    span.set('http.request.method', exchange.method)
    const target = this.inner.targetPath?.(exchange)
    if (target !== undefined) span.set('url.path', target.split('?', 1)[0]!)
    trace.inject(exchange.headers)
    // A promise chain rather than an async function: this runs for every traced attempt.
    let sent: Promise<BackendResponse>
    try {
      sent = this.inner.send(exchange, signal)
    } catch (error) {
      sent = Promise.reject(error)
    }
    return sent.then(
      (response) => {
        span.set('http.response.status_code', response.status)
        if (response.status >= 400) span.set('error.type', String(response.status))
        span.end()
        return response
      },
      (error: unknown) => {
        const failure = classifyFailure(error, this.id)
        if (failure.status !== undefined) span.set('http.response.status_code', failure.status)
        const code = WSO2_ERROR_CODES[failure.kind]
        if (code !== undefined) span.set('portico.wso2.error_code', code)
        span.set('portico.failure.kind', failure.kind)
        span.fail(failure.kind, failure.message)
        span.end()
        throw error
      },
    )
  }
}
