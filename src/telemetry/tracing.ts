import type { IncomingHttpHeaders } from 'node:http'
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type HrTime, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api'
import { millisToHrTime, W3CTraceContextPropagator } from '@opentelemetry/core'
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base'
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { AlwaysOnSampler, BasicTracerProvider, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base'
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions'
import type { ExchangeTrace, TraceSpan, TraceValue } from '../core/trace.ts'
import { EncodingSpanProcessor, type EncodedSpansExporter, type SpanDropReason } from './encoding-span-processor.ts'
import { encodedSpansSerializer, SpanOrigin, type EncodedSpans } from './otlp-protobuf.ts'
import type { TracingConfig } from './schema.ts'
import { PooledIdGenerator } from './span-ids.ts'

/** How long a stop waits for the last export at most. */
const CLOSE_WAIT_MS = 2000

const propagator = new W3CTraceContextPropagator()

const requestHeaders: TextMapGetter<IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
}

/** A traced request: its server span and, when sampled, the trace steps below it use. */
export interface RequestTrace {
  /** The trace id to log and show in error bodies: the sampled trace's, or the client's when it sent one. */
  readonly traceId: string | undefined
  /** Present when the request is sampled. */
  readonly exchange: ExchangeTrace | undefined
  /** Ends the server span with the response's status and, for a gateway error, its code. */
  end(status: number, route: string | undefined, errorCode: string | undefined): void
}

/** The instrumentation scope of the gateway's spans. */
const SCOPE = { name: 'portico' }

/**
 * The gateway's tracer: a BasicTracerProvider with ParentBased(TraceIdRatioBased) sampling and a processor that
 * encodes each span to OTLP protobuf as it ends and exports them in batches over OTLP/HTTP. It is not registered as
 * the global provider: spans are parented explicitly through the exchange (see core/trace.ts), so nothing else in
 * the process is traced by accident.
 */
export class Tracing {
  readonly #provider: BasicTracerProvider
  readonly #tracer: Tracer
  readonly #exportTimeout: number

  constructor(config: TracingConfig, dropped: (reason: SpanDropReason, count: number) => void) {
    const resource = resourceFromAttributes({
      [ATTR_SERVICE_NAME]: config.serviceName,
      ...(process.env.npm_package_version ? { [ATTR_SERVICE_VERSION]: process.env.npm_package_version } : {}),
    })
    const processor = new EncodingSpanProcessor(new SpanOrigin(resource, SCOPE), otlpHttpExporter(config), config, dropped)
    this.#provider = new BasicTracerProvider({
      resource,
      // At 1 every new trace is sampled: AlwaysOn decides so without reading the trace id.
      sampler: new ParentBasedSampler({ root: config.sampleRatio === 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(config.sampleRatio) }),
      spanProcessors: [processor],
      idGenerator: new PooledIdGenerator(),
    })
    this.#tracer = this.#provider.getTracer(SCOPE.name)
    this.#exportTimeout = config.exportTimeout
  }

  /** Starts the server span of one request, continuing the client's W3C trace context when it sent one. */
  startRequest(headers: IncomingHttpHeaders, method: string, path: string, client: string): RequestTrace {
    const parent = headers.traceparent === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, headers, requestHeaders)
    const span = this.#tracer.startSpan(method, { kind: SpanKind.SERVER, startTime: now() }, parent)
    if (!span.isRecording()) {
      const clientTrace = trace.getSpanContext(parent)
      return { traceId: clientTrace?.traceId, exchange: undefined, end: () => {} }
    }
    span.setAttribute('http.request.method', method)
    span.setAttribute('url.path', path)
    span.setAttribute('url.scheme', 'http')
    span.setAttribute('client.address', client)
    setHostAttributes(span, headers.host)
    const userAgent = headers['user-agent']
    if (userAgent) span.setAttribute('user_agent.original', userAgent)
    return new SpanStack(this.#tracer, span, method)
  }

  /**
   * Sends what is queued and stops; spans ended later are not exported. A collector that is down or slow holds
   * the stop up for 2 s (or `exportTimeout`, when shorter) at most: a collector that takes the connection and never
   * answers would hold the last export for its whole timeout, and a stopping gateway should not wait that long.
   */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(this.#exportTimeout, CLOSE_WAIT_MS)).unref()))
    await Promise.race([this.#provider.shutdown().catch(() => {}), cap])
    clearTimeout(timer)
  }
}

/**
 * The SDK's OTLP/HTTP protobuf exporter (what `OTLPTraceExporter` of @opentelemetry/exporter-trace-otlp-proto
 * builds: its HTTP transport, retries, timeout and concurrency limit), sending batches the processor has already
 * encoded: the serializer of otlp-protobuf.ts only frames them.
 */
function otlpHttpExporter(config: TracingConfig): EncodedSpansExporter {
  const options = convertLegacyHttpOptions({ url: config.endpoint, timeoutMillis: config.exportTimeout, concurrencyLimit: 2 }, 'TRACES', 'v1/traces', {
    'Content-Type': 'application/x-protobuf',
  })
  const spans = { name: 'span' as const, countItems: (batch: EncodedSpans) => batch.count }
  return new OTLPExporterBase(createOtlpHttpExportDelegate(options, encodedSpansSerializer, 'otlp_http_span_exporter', spans, undefined))
}

// Spans get their times from the monotonic clock (time origin plus performance.now()): by default the SDK starts a
// span at Date.now()'s whole millisecond, which misorders the attempts of a fast failover.
//
// Attributes are set once a span has started rather than passed to startSpan: our samplers read none, and the SDK
// copies and checks the attributes given to startSpan twice, then sets them one by one with setAttribute anyway.

const [ORIGIN_SECONDS, ORIGIN_NANOS] = millisToHrTime(performance.timeOrigin)

/**
 * Now as an `HrTime`, what `hrTime()` of @opentelemetry/core gives, with the time origin converted once instead of
 * at every call (a quarter of its instructions; four calls a request).
 */
function now(): HrTime {
  const ms = performance.now()
  const seconds = Math.trunc(ms / 1000)
  const nanos = ORIGIN_NANOS + Math.round((ms - seconds * 1000) * 1e6)
  return nanos >= 1e9 ? [ORIGIN_SECONDS + seconds + 1, nanos - 1e9] : [ORIGIN_SECONDS + seconds, nanos]
}

/** A Host header: a name, an IPv4 address or a bracketed IPv6 address, and an optional port. */
const HOST = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/

/** The last Host header read and what it gave: clients send the same one request after request. */
let lastHost: { header: string; address: string; port: number | undefined } | undefined

/** `server.address` and `server.port` from the Host header the client sent, as the HTTP server conventions ask. */
function setHostAttributes(span: Span, host: string | undefined): void {
  if (!host) return
  if (lastHost?.header !== host) {
    const match = HOST.exec(host)
    if (!match) return
    const address = match[1]!.startsWith('[') ? match[1]!.slice(1, -1) : match[1]!
    lastHost = { header: host, address, port: match[2] === undefined ? undefined : Number(match[2]) }
  }
  span.setAttribute('server.address', lastHost.address)
  if (lastHost.port !== undefined) span.setAttribute('server.port', lastHost.port)
}

/**
 * A sampled request's spans as a stack, its server span at the bottom: the span that began last and has not
 * ended is the parent of the next. A span's context (what startSpan reads the parent from) is made only when a
 * child asks for it: a leaf's attempt span has none, and a traceparent is written from the span's ids.
 */
class SpanStack implements RequestTrace, ExchangeTrace {
  readonly traceId: string
  readonly #tracer: Tracer
  readonly #server: Span
  readonly #method: string
  #current: Span
  #context: Context | undefined

  constructor(tracer: Tracer, server: Span, method: string) {
    this.#tracer = tracer
    this.#server = server
    this.#method = method
    this.#current = server
    this.traceId = server.spanContext().traceId
  }

  get exchange(): ExchangeTrace {
    return this
  }

  begin(name: string, kind: 'internal' | 'client', attributes?: Readonly<Record<string, TraceValue>>): TraceSpan {
    const parent = this.#current
    const parentContext = this.#context ?? trace.setSpan(ROOT_CONTEXT, parent)
    const span = this.#tracer.startSpan(name, { kind: kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL, startTime: now() }, parentContext)
    if (attributes) span.setAttributes(attributes)
    this.#current = span
    this.#context = undefined
    return new StackedSpan(this, span, parent, parentContext)
  }

  /** The span below an ending one is current again. */
  resume(span: Span, context: Context): void {
    this.#current = span
    this.#context = context
  }

  inject(headers: string[]): void {
    // W3C trace context, written here rather than by the SDK's propagator, which needs a context object to read the
    // span from: the current span as the parent, and the trace's state (the client's tracestate) when not empty.
    const { traceId, spanId, traceFlags, traceState } = this.#current.spanContext()
    const traceparent = `00-${traceId}-${spanId}-${traceFlags === 1 ? '01' : (traceFlags & 0xff).toString(16).padStart(2, '0')}`
    const tracestate = traceState?.serialize() || undefined
    // Whatever the client sent under these names is replaced.
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!
      if ((name.length === 11 && name.toLowerCase() === 'traceparent') || (name.length === 10 && name.toLowerCase() === 'tracestate')) {
        headers.splice(i, 2)
        i -= 2
      }
    }
    headers.push('traceparent', traceparent)
    if (tracestate !== undefined) headers.push('tracestate', tracestate)
  }

  end(status: number, route: string | undefined, errorCode: string | undefined): void {
    const span = this.#server
    span.setAttribute('http.response.status_code', status)
    if (route !== undefined) {
      span.setAttribute('http.route', route)
      span.updateName(`${this.#method} ${route}`)
    }
    // OpenTelemetry's HTTP server conventions: only 5xx marks a server span failed; error codes name the cause.
    if (errorCode !== undefined) span.setAttribute('portico.error.code', errorCode)
    if (status >= 500) {
      span.setAttribute('error.type', errorCode ?? String(status))
      span.setStatus({ code: SpanStatusCode.ERROR })
    }
    span.end(now())
  }
}

/** A span above the server span, and what was current when it began. */
class StackedSpan implements TraceSpan {
  readonly #stack: SpanStack
  readonly #span: Span
  readonly #parent: Span
  readonly #parentContext: Context

  constructor(stack: SpanStack, span: Span, parent: Span, parentContext: Context) {
    this.#stack = stack
    this.#span = span
    this.#parent = parent
    this.#parentContext = parentContext
  }

  set(key: string, value: TraceValue): void {
    this.#span.setAttribute(key, value)
  }

  fail(errorType: string, message?: string): void {
    this.#span.setAttribute('error.type', errorType)
    this.#span.setStatus(message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message })
  }

  end(): void {
    this.#span.end(now())
    this.#stack.resume(this.#parent, this.#parentContext)
  }
}
