import { Counter, Registry, collectDefaultMetrics } from 'prom-client'
import type { FailureKind } from '../core/endpoint.ts'
import { RequestCounter, RequestHistogram, type CounterChild, type HistogramChild } from './request-metrics.ts'

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** One API and resource's metric children: request counters by method and status, and the duration histogram. */
interface RouteChildren {
  readonly requests: Map<string, Map<number, CounterChild>>
  readonly duration: HistogramChild
}

/**
 * The gateway's Prometheus metrics. What every request updates is kept in `request-metrics.ts`'s children, found
 * without building a key; the rest are prom-client's.
 */
export class GatewayMetrics {
  readonly registry: Registry
  readonly #requests: RequestCounter
  readonly #duration: RequestHistogram
  readonly #upstreamDuration: RequestHistogram
  readonly #upstreamErrors: Counter<'endpoint' | 'kind'>
  readonly #spansDropped: Counter<'reason'>
  /**
   * Label children by API, then resource (then method and status), looked up with the label strings themselves:
   * no key is built per request, and each string's hash is computed once.
   */
  readonly #routes = new Map<string, Map<string, RouteChildren>>()
  readonly #upstreamChildren = new Map<string, HistogramChild>()

  constructor() {
    this.registry = new Registry()
    collectDefaultMetrics({ register: this.registry, prefix: 'portico_' })
    this.#requests = new RequestCounter({
      name: 'portico_requests_total',
      help: 'Requests answered, by API, resource, method and status',
      registers: [this.registry],
    })
    this.#duration = new RequestHistogram({
      name: 'portico_request_duration_seconds',
      help: 'Time from request to the end of the response, by API and resource',
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    })
    this.#upstreamDuration = new RequestHistogram({
      name: 'portico_upstream_duration_seconds',
      help: 'Time from sending to a backend until its response headers arrived, by endpoint',
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    })
    this.#upstreamErrors = new Counter({
      name: 'portico_upstream_errors_total',
      help: 'Failed backend calls, by endpoint and failure kind',
      labelNames: ['endpoint', 'kind'],
      registers: [this.registry],
    })
    this.#spansDropped = new Counter({
      name: 'portico_trace_spans_dropped_total',
      help: 'Trace spans lost: the export queue was full (queue-full) or the collector did not take a batch (export-failed)',
      labelNames: ['reason'],
      registers: [this.registry],
    })
  }

  request(api: string, resource: string, method: string, status: number, seconds: number): void {
    let route = this.#routes.get(api)?.get(resource)
    if (!route) route = this.#route(api, resource)
    let byStatus = route.requests.get(method)
    if (!byStatus) route.requests.set(method, (byStatus = new Map()))
    let counter = byStatus.get(status)
    if (!counter) byStatus.set(status, (counter = this.#requests.child({ api, resource, method, status: String(status) })))
    counter.inc()
    route.duration.observe(seconds)
  }

  upstream(endpoint: string, seconds: number): void {
    let histogram = this.#upstreamChildren.get(endpoint)
    if (!histogram) this.#upstreamChildren.set(endpoint, (histogram = this.#upstreamDuration.child({ endpoint })))
    histogram.observe(seconds)
  }

  #route(api: string, resource: string): RouteChildren {
    let resources = this.#routes.get(api)
    if (!resources) this.#routes.set(api, (resources = new Map()))
    const route: RouteChildren = { requests: new Map(), duration: this.#duration.child({ api, resource }) }
    resources.set(resource, route)
    return route
  }

  spansDropped(reason: 'queue-full' | 'export-failed', count: number): void {
    this.#spansDropped.labels(reason).inc(count)
  }

  upstreamError(endpoint: string, kind: FailureKind): void {
    this.#upstreamErrors.labels(endpoint, kind).inc()
  }
}
