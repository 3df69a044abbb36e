import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

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
 * A collector's OTLP/HTTP traces endpoint on 127.0.0.1: it decodes each protobuf ExportTraceServiceRequest and keeps
 * its spans. The node_modules hold no .proto files nor a protobuf library that reads them, so the decoder below
 * follows the field numbers of opentelemetry-proto's trace.proto, common.proto, resource.proto and
 * trace_service.proto (v1) by hand; the OTel SDK's own exporter produces what it reads.
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

  static async start(): Promise<OtlpReceiver> {
    let receiver: OtlpReceiver | undefined
    const server = createServer((req, res) => {
      void collect(req).then((body) => {
        receiver!.requests.push({ contentType: req.headers['content-type'], path: req.url ?? '' })
        receiver!.spans.push(...decodeExportRequest(body))
        res.writeHead(200, { 'content-type': 'application/x-protobuf' })
        res.end()
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

/** Protobuf's wire format: tags, varints, fixed 64-bit values and length-delimited bytes. */
class Wire {
  #pos = 0
  readonly #buf: Buffer

  constructor(buf: Buffer) {
    this.#buf = buf
  }

  get done(): boolean {
    return this.#pos >= this.#buf.length
  }

  tag(): { field: number; type: number } {
    const tag = Number(this.varint())
    return { field: tag >>> 3, type: tag & 7 }
  }

  varint(): bigint {
    let result = 0n
    for (let shift = 0n; ; shift += 7n) {
      const byte = this.#buf[this.#pos++]!
      result |= BigInt(byte & 0x7f) << shift
      if (byte < 0x80) return result
    }
  }

  fixed64(): Buffer {
    const value = this.#buf.subarray(this.#pos, this.#pos + 8)
    this.#pos += 8
    return value
  }

  bytes(): Buffer {
    const length = Number(this.varint())
    const value = this.#buf.subarray(this.#pos, this.#pos + length)
    this.#pos += length
    return value
  }

  skip(type: number): void {
    if (type === 0) this.varint()
    else if (type === 1) this.#pos += 8
    else if (type === 2) this.bytes()
    else if (type === 5) this.#pos += 4
    else throw new Error(`unexpected wire type ${type}`)
  }
}

/** Calls `on(field, type, wire)` for each field of a message; `on` reads the field or returns false to skip it. */
function fields(buf: Buffer, on: (field: number, type: number, wire: Wire) => boolean): void {
  const wire = new Wire(buf)
  while (!wire.done) {
    const { field, type } = wire.tag()
    if (!on(field, type, wire)) wire.skip(type)
  }
}

/** ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1 } */
export function decodeExportRequest(buf: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = []
  fields(buf, (field, _type, wire) => {
    if (field !== 1) return false
    decodeResourceSpans(wire.bytes(), spans)
    return true
  })
  return spans
}

/** ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2 }; ScopeSpans { repeated Span spans = 2 } */
function decodeResourceSpans(buf: Buffer, out: ReceivedSpan[]): void {
  let serviceName: string | undefined
  const scopes: Buffer[] = []
  fields(buf, (field, _type, wire) => {
    if (field === 1) {
      // Resource { repeated KeyValue attributes = 1 }
      const attributes: Record<string, string | number | boolean> = {}
      fields(wire.bytes(), (f, _t, w) => (f === 1 ? (decodeKeyValue(w.bytes(), attributes), true) : false))
      serviceName = attributes['service.name'] as string | undefined
      return true
    }
    if (field === 2) {
      scopes.push(wire.bytes())
      return true
    }
    return false
  })
  for (const scope of scopes) {
    fields(scope, (field, _type, wire) => (field === 2 ? (out.push(decodeSpan(wire.bytes(), serviceName)), true) : false))
  }
}

/**
 * Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; SpanKind kind = 6;
 * fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9; Status status = 15 }
 */
function decodeSpan(buf: Buffer, serviceName: string | undefined): ReceivedSpan {
  const span: ReceivedSpan = {
    traceId: '', spanId: '', parentSpanId: '', name: '', kind: 0, startNanos: 0n, endNanos: 0n,
    attributes: {}, status: { code: 0, message: '' }, serviceName,
  }
  fields(buf, (field, _type, wire) => {
    switch (field) {
      case 1: span.traceId = wire.bytes().toString('hex'); return true
      case 2: span.spanId = wire.bytes().toString('hex'); return true
      case 4: span.parentSpanId = wire.bytes().toString('hex'); return true
      case 5: span.name = wire.bytes().toString('utf8'); return true
      case 6: span.kind = Number(wire.varint()); return true
      case 7: span.startNanos = wire.fixed64().readBigUInt64LE(); return true
      case 8: span.endNanos = wire.fixed64().readBigUInt64LE(); return true
      case 9: decodeKeyValue(wire.bytes(), span.attributes); return true
      case 15:
        // Status { string message = 2; StatusCode code = 3 }
        fields(wire.bytes(), (f, _t, w) => {
          if (f === 2) span.status.message = w.bytes().toString('utf8')
          else if (f === 3) span.status.code = Number(w.varint())
          else return false
          return true
        })
        return true
      default:
        return false
    }
  })
  return span
}

/** KeyValue { string key = 1; AnyValue value = 2 }; AnyValue { string 1 | bool 2 | int64 3 | double 4 } */
function decodeKeyValue(buf: Buffer, into: Record<string, string | number | boolean>): void {
  let key = ''
  let value: string | number | boolean = ''
  fields(buf, (field, _type, wire) => {
    if (field === 1) key = wire.bytes().toString('utf8')
    else if (field === 2) {
      fields(wire.bytes(), (f, _t, w) => {
        if (f === 1) value = w.bytes().toString('utf8')
        else if (f === 2) value = w.varint() !== 0n
        else if (f === 3) value = Number(BigInt.asIntN(64, w.varint()))
        else if (f === 4) value = w.fixed64().readDoubleLE()
        else return false
        return true
      })
    } else return false
    return true
  })
  into[key] = value
}
