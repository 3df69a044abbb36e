import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type HrTime, type Tracer } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { EncodedSpans, SpanOrigin } from '../src/telemetry/otlp-protobuf.ts'
import { decodeExportRequestWhole, decodeExportRequest } from './support/otlp-receiver.ts'

/** Spans made by the SDK with every kind of content the OTLP messages hold, as a gateway's tracer could make them. */
function sampleSpans(times = 1) {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'portico', 'service.version': '1.2.3', 'host.cores': 2 }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  })
  const tracer = provider.getTracer('portico', '0.1.0')
  for (let i = 0; i < times; i++) makeSpans(tracer)
  return exporter.getFinishedSpans()
}

function makeSpans(tracer: Tracer): void {
  const remote = new W3CTraceContextPropagator().extract(
    ROOT_CONTEXT,
    { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=opaque,other=1' },
    { keys: (carrier) => Object.keys(carrier), get: (carrier, key) => carrier[key as 'traceparent'] },
  )
  const start: HrTime = [1_767_225_600, 123_456_789]
  const server = tracer.startSpan('GET /orders/{id}', { kind: SpanKind.SERVER, startTime: start }, remote)
  server.setAttributes({
    'http.request.method': 'GET',
    'url.path': '/orders/ünïcödé/✓/𝄞',
    // Longer than one length byte, and far longer than a short string.
    'user_agent.original': 'agent '.repeat(40),
    'large.value': 'x'.repeat(20_000),
    'server.port': 8280,
    'negative.int': -5,
    'beyond.32.bits': 2 ** 40 + 7,
    'negative.beyond.32.bits': -(2 ** 40) - 3,
    'double.value': 1.5,
    'bool.value': true,
    'array.value': ['a', 'b', 'ç'],
    'number.array': [1, 2.5, -3],
  })
  server.addEvent('retry', { 'attempt': 2 }, [1_767_225_600, 200_000_000])
  server.addLink({ context: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true }, attributes: { why: 'batch' } })
  const attempt = tracer.startSpan('GET leaf', { kind: SpanKind.CLIENT, startTime: [1_767_225_600, 999_999_999] }, trace.setSpan(remote, server))
  attempt.setAttribute('http.response.status_code', 502)
  attempt.setStatus({ code: SpanStatusCode.ERROR, message: 'connect ECONNREFUSED 127.0.0.1:1' })
  attempt.end([1_767_225_601, 5])
  const internal = tracer.startSpan('group g', { kind: SpanKind.INTERNAL, startTime: [4_102_444_800, 999_999_999] }, ROOT_CONTEXT)
  internal.end([4_102_444_801, 0])
  server.end([1_767_225_601, 500_000_000])
}

/** The spans as the gateway's processor encodes them: one by one, into a batch of their (one) resource and scope. */
function encoded(spans: ReadableSpan[], origin = new SpanOrigin(spans[0]!.resource, spans[0]!.instrumentationScope)): Uint8Array {
  const batch = new EncodedSpans(origin, spans.length)
  for (const span of spans) batch.add(span)
  return batch.request()
}

test("the encoder's requests decode, with the official OTLP definitions, to exactly what the SDK's serializer sends", () => {
  const spans = sampleSpans()
  const ours = encoded(spans)
  const sdk = ProtobufTraceSerializer.serializeRequest(spans)!
  assert.deepEqual(decodeExportRequestWhole(ours), decodeExportRequestWhole(sdk))
  // And the values themselves, not only their agreement.
  const [attempt, internal, server] = decodeExportRequest(Buffer.from(ours))
  assert.equal(server!.startNanos, 1_767_225_600_123_456_789n)
  assert.equal(server!.endNanos, 1_767_225_601_500_000_000n)
  assert.equal(internal!.startNanos, 4_102_444_800_999_999_999n)
  assert.equal(server!.parentSpanId, '00f067aa0ba902b7')
  assert.equal(server!.attributes['url.path'], '/orders/ünïcödé/✓/𝄞')
  assert.equal(server!.attributes['negative.beyond.32.bits'], -(2 ** 40) - 3)
  assert.equal((server!.attributes['large.value'] as string).length, 20_000)
  assert.equal(attempt!.parentSpanId, server!.spanId)
  assert.deepEqual(attempt!.status, { code: 2, message: 'connect ECONNREFUSED 127.0.0.1:1' })
})

test('a batch of many spans is one request that decodes as the SDK\'s does, batch after batch', () => {
  const spans = sampleSpans(300)
  // One origin for every batch, as the gateway keeps: each batch's buffer is sized from the last one's spans.
  const origin = new SpanOrigin(spans[0]!.resource, spans[0]!.instrumentationScope)
  for (const batch of [spans.slice(0, 3), spans, spans.slice(0, 10), spans]) {
    assert.deepEqual(decodeExportRequestWhole(encoded(batch, origin)), decodeExportRequestWhole(ProtobufTraceSerializer.serializeRequest(batch)!))
  }
})

test('a resource and scope with schema URLs, and a request made twice, decode as the SDK\'s', () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'x'.repeat(300) }, { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  })
  provider.getTracer('scope', '2.0', { schemaUrl: 'https://example.com/scope-schema' }).startSpan('one').end()
  const spans = exporter.getFinishedSpans()
  const batch = new EncodedSpans(new SpanOrigin(spans[0]!.resource, spans[0]!.instrumentationScope), 1)
  batch.add(spans[0]!)
  const sdk = decodeExportRequestWhole(ProtobufTraceSerializer.serializeRequest(spans)!)
  assert.deepEqual(decodeExportRequestWhole(batch.request()), sdk)
  assert.deepEqual(decodeExportRequestWhole(batch.request()), sdk)
})

test('values that repeat, alternate and change under one key decode as the SDK\'s: the kept KeyValues are the right ones', () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const tracer = provider.getTracer('portico')
  const values = ['a', 'b', 'a', 'c', 'b', 'b', 'x'.repeat(200), 'x'.repeat(200), 1, 1.5, true, 'a']
  for (const [i, value] of values.entries()) {
    const span = tracer.startSpan(`span ${i}`)
    span.setAttribute('key', value)
    span.setAttribute('port', i % 2 === 0 ? 8280 : 80)
    span.end()
  }
  const spans = exporter.getFinishedSpans()
  assert.deepEqual(decodeExportRequestWhole(encoded(spans)), decodeExportRequestWhole(ProtobufTraceSerializer.serializeRequest(spans)!))
})
