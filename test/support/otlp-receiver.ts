import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'

/** One span as a collector receives it, ids in hex as in a traceparent. */
export interface ReceivedSpan {
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  /** SpanKind: 1 internal, 2 server, 3 client. */
  kind: number
  startNanos: bigint
  endNanos: bigint
  attributes: Record<string, string | number | boolean>
  /** StatusCode: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string }
  serviceName: string | undefined
}

/**
 * A collector's OTLP/HTTP traces endpoint on 127.0.0.1: it decodes each protobuf ExportTraceServiceRequest with
 * protobufjs and the official OTLP definitions (opentelemetry-proto's .proto files, in test/fixtures/otlp-proto/),
 * and keeps its spans.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = []
  /** Export requests received, with their content type. */
  readonly requests: { contentType: string | undefined; path: string }[] = []
  readonly #server: Server
  readonly url: string

  private constructor(server: Server, url: string) {
    this.#server = server
    this.url = url
  }

  /** `answerAfter`: milliseconds to wait before answering each export, as a slow collector does. */
  static async start(options: { answerAfter?: number } = {}): Promise<OtlpReceiver> {
    let receiver: OtlpReceiver | undefined
    const server = createServer((req, res) => {
      void collect(req).then((body) => {
        receiver!.requests.push({ contentType: req.headers['content-type'], path: req.url ?? '' })
        receiver!.spans.push(...decodeExportRequest(body))
        const answer = () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
        if (options.answerAfter) setTimeout(answer, options.answerAfter)
        else answer()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    receiver = new OtlpReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`)
    return receiver
  }

  close(): Promise<void> {
    this.#server.closeAllConnections()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}

async function collect(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** The OTLP definitions the collector's ExportTraceServiceRequest is made of, read once. */
const EXPORT_REQUEST = (() => {
  const root = new protobuf.Root()
  // The .proto files import each other by their path in opentelemetry-proto, which the fixture keeps.
  const definitions = fileURLToPath(new URL('../fixtures/otlp-proto/', import.meta.url))
  root.resolvePath = (_origin, target) => definitions + target
  root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto')
  return root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest')
})()

/** The parts of a decoded ExportTraceServiceRequest that the tests read, as protobufjs's toObject gives them. */
interface ExportRequest {
  resourceSpans: { resource: { attributes: KeyValue[] } | null; scopeSpans: { spans: Span[] }[] }[]
}
interface Span {
  traceId: Buffer
  spanId: Buffer
  parentSpanId: Buffer
  name: string
  kind: number
  startTimeUnixNano: string
  endTimeUnixNano: string
  attributes: KeyValue[]
  status: { code: number; message: string } | null
}
/** AnyValue's oneof `value` names the member that is set. */
interface KeyValue {
  key: string
  value: { value?: 'stringValue' | 'boolValue' | 'intValue' | 'doubleValue'; stringValue?: string; boolValue?: boolean; intValue?: string; doubleValue?: number } | null
}

/** All of a decoded ExportTraceServiceRequest, every field at its value or default (int64 as strings): to compare encodings. */
export function decodeExportRequestWhole(body: Uint8Array): unknown {
  return EXPORT_REQUEST.toObject(EXPORT_REQUEST.decode(body), { longs: String, bytes: String, defaults: true, oneofs: true })
}

export function decodeExportRequest(body: Buffer): ReceivedSpan[] {
  const request = EXPORT_REQUEST.toObject(EXPORT_REQUEST.decode(body), { longs: String, defaults: true, oneofs: true }) as ExportRequest
  return request.resourceSpans.flatMap(({ resource, scopeSpans }) => {
    const serviceName = attributesOf(resource?.attributes ?? [])['service.name'] as string | undefined
    return scopeSpans.flatMap(({ spans }) => spans.map((span) => receivedSpan(span, serviceName)))
  })
}

function receivedSpan(span: Span, serviceName: string | undefined): ReceivedSpan {
  return {
    traceId: span.traceId.toString('hex'),
    spanId: span.spanId.toString('hex'),
    parentSpanId: span.parentSpanId.toString('hex'),
    name: span.name,
    kind: span.kind,
    startNanos: BigInt(span.startTimeUnixNano),
    endNanos: BigInt(span.endTimeUnixNano),
    attributes: attributesOf(span.attributes),
    status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
    serviceName,
  }
}

/** Attributes by key; an int64 as a number (the tests' values are far below 2^53). */
function attributesOf(attributes: KeyValue[]): Record<string, string | number | boolean> {
  const into: Record<string, string | number | boolean> = {}
  for (const { key, value } of attributes) {
    const member = value?.value
    if (!member) continue
    into[key] = member === 'intValue' ? Number(value.intValue) : value[member]!
  }
  return into
}
