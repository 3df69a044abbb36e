import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { FailureKind } from '../core/endpoint.ts'

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** The gateway's Prometheus metrics. Label children are cached so the hot path does no label hashing. */
export class GatewayMetrics {
  readonly registry: Registry
  readonly #requests: Counter<'api' | 'resource' | 'method' | 'status'>
  readonly #duration: Histogram<'api' | 'resource'>
  readonly #upstreamDuration: Histogram<'endpoint'>
  readonly #upstreamErrors: Counter<'endpoint' | 'kind'>
  readonly #spansDropped: Counter<'reason'>
  readonly #children = new Map<string, { inc(): void } | { observe(value: number): void }>()

  constructor() {
    this.registry = new Registry()
    collectDefaultMetrics({ register: this.registry, prefix: 'portico_' })
    this.#requests = new Counter({
      name: 'portico_requests_total',
      help: 'Requests answered, by API, resource, method and status',
      labelNames: ['api', 'resource', 'method', 'status'],
      registers: [this.registry],
    })
    this.#duration = new Histogram({
      name: 'portico_request_duration_seconds',
      help: 'Time from request to the end of the response, by API and resource',
      labelNames: ['api', 'resource'],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    })
    this.#upstreamDuration = new Histogram({
      name: 'portico_upstream_duration_seconds',
      help: 'Time from sending to a backend until its response headers arrived, by endpoint',
      labelNames: ['endpoint'],
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
    const countKey = `r\u0000${api}\u0000${resource}\u0000${method}\u0000${status}`
    let counter = this.#children.get(countKey) as { inc(): void } | undefined
    if (!counter) {
      counter = this.#requests.labels(api, resource, method, String(status))
      this.#children.set(countKey, counter)
    }
    counter.inc()
    const durationKey = `d\u0000${api}\u0000${resource}`
    let histogram = this.#children.get(durationKey) as { observe(value: number): void } | undefined
    if (!histogram) {
      histogram = this.#duration.labels(api, resource)
      this.#children.set(durationKey, histogram)
    }
    histogram.observe(seconds)
  }

  upstream(endpoint: string, seconds: number): void {
    const key = `u\u0000${endpoint}`
    let histogram = this.#children.get(key) as { observe(value: number): void } | undefined
    if (!histogram) {
      histogram = this.#upstreamDuration.labels(endpoint)
      this.#children.set(key, histogram)
    }
    histogram.observe(seconds)
  }

  spansDropped(reason: 'queue-full' | 'export-failed', count: number): void {
    this.#spansDropped.labels(reason).inc(count)
  }

  upstreamError(endpoint: string, kind: FailureKind): void {
    this.#upstreamErrors.labels(endpoint, kind).inc()
  }
}
