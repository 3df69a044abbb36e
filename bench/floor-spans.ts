// The spans of bench/floor.ts with FLOOR_SDK_SPANS=1: per request, what a traced gateway request makes with the
// OpenTelemetry SDK and nothing more: a server span with the attributes of the HTTP server conventions the gateway
// sets, a client span for the backend call with the attempt's attributes, a `traceparent` sent to the backend, both
// ended. The SDK's BasicTracerProvider with AlwaysOn sampling, as the gateway configures it at `sampleRatio: 1`,
// and a processor that keeps nothing: no encoding, no export. So `traced-get-small` can tell what the official SDK
// costs on its own from what the gateway adds.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { ROOT_CONTEXT, SpanKind, trace, type Span, type Tracer } from '@opentelemetry/api'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { AlwaysOnSampler, BasicTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-base'

const keepsNothing: SpanProcessor = { onStart() {}, onEnd() {}, forceFlush: async () => {}, shutdown: async () => {} }

export class FloorSpans {
  readonly #tracer: Tracer
  readonly #port: number

  constructor(port: number) {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'floor' }),
      sampler: new AlwaysOnSampler(),
      spanProcessors: [keepsNothing],
    })
    this.#tracer = provider.getTracer('floor')
    this.#port = port
  }

  /** Starts both spans and writes the `traceparent` into the backend request's headers. */
  start(req: IncomingMessage, headers: IncomingHttpHeaders): { answered(status: number, res: ServerResponse): void } {
    const method = req.method ?? 'GET'
    const path = req.url ?? '/'
    const server = this.#tracer.startSpan(method, { kind: SpanKind.SERVER }, ROOT_CONTEXT)
    server.setAttribute('http.request.method', method)
    server.setAttribute('url.path', path)
    server.setAttribute('url.scheme', 'http')
    server.setAttribute('client.address', req.socket.remoteAddress ?? '')
    server.setAttribute('server.address', '127.0.0.1')
    server.setAttribute('server.port', this.#port)
    if (req.headers['user-agent']) server.setAttribute('user_agent.original', req.headers['user-agent'])
    const client = this.#tracer.startSpan(`${method} backend`, { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, server))
    client.setAttributes({ 'server.address': '127.0.0.1', 'http.request.method': method, 'url.path': path })
    const { traceId, spanId } = client.spanContext()
    headers.traceparent = `00-${traceId}-${spanId}-01`
    return {
      answered: (status, res) => {
        client.setAttribute('http.response.status_code', status)
        client.end()
        res.once('finish', () => end(server, status))
      },
    }
  }
}

function end(server: Span, status: number): void {
  server.setAttribute('http.response.status_code', status)
  server.end()
}
