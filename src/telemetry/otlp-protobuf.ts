import type { HrTime, Link, SpanContext } from '@opentelemetry/api'
import type { ISerializer } from '@opentelemetry/otlp-transformer'
import { ProtobufTraceSerializer, type IExportTraceServiceResponse } from '@opentelemetry/otlp-transformer'
import type { Resource } from '@opentelemetry/resources'
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base'

/**
 * OTLP `ExportTraceServiceRequest`s in protobuf, written span by span: each span is encoded into its batch's buffer
 * when it ends (`EncodedSpans.add`), so the SDK's span object need not outlive it, and the request is that buffer
 * with the `ResourceSpans`/`ScopeSpans` framing written in front (`EncodedSpans.request`).
 *
 * Why not the SDK's serializer (`ProtobufTraceSerializer` of @opentelemetry/otlp-transformer): it needs the span
 * objects of the whole batch at export time, walks every span twice (once to estimate the size, once to write),
 * copies each string character by character in JavaScript and turns each id from hex with a loop of its own; at
 * 100 % sampling it was a third of what tracing cost the gateway. This writes short ASCII strings and ids in plain
 * loops, longer strings with `Buffer.write`, and an attribute key's bytes once per key. It writes what the SDK's
 * does, field for field (the same messages, numbers and wire types of opentelemetry/proto/trace/v1), and
 * test/otlp-protobuf.test.ts and the gateway's tracing tests decode its output with the official .proto files.
 * The wire format is stable (OTLP 1.0); the response is read by the SDK's own deserializer.
 */

// Wire types.
const VARINT = 0
const FIXED64 = 1
const LENGTH = 2
const FIXED32 = 5

const tag = (field: number, wire: number) => (field << 3) | wire

// Span flags of OTLP 1.1: the low byte is the W3C trace flags; bit 8 says whether bit 9 (parent is remote) is known.
const HAS_IS_REMOTE = 0x100
const IS_REMOTE = 0x200

/** A string at most this long (UTF-16 units) has at most 3× as many UTF-8 bytes: its length fits in one byte. */
const SHORT_STRING = 42

/** The byte of each pair of hex digits, by their character codes (`first << 7 | second`; upper and lowercase). */
const HEX_PAIR = new Uint8Array(128 * 128)
for (let high = 0; high < 16; high++) {
  for (let low = 0; low < 16; low++) {
    for (const first of ['0123456789abcdef', '0123456789ABCDEF']) {
      for (const second of ['0123456789abcdef', '0123456789ABCDEF']) {
        HEX_PAIR[(first.charCodeAt(high) << 7) | second.charCodeAt(low)] = (high << 4) | low
      }
    }
  }
}

class Writer {
  buf: Buffer
  pos = 0

  /** A buffer of its own (outside the JavaScript heap), kept until the request made of it is sent. */
  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(size)
  }

  /** Room for `size` more bytes. */
  ensure(size: number): void {
    if (this.pos + size <= this.buf.length) return
    let length = this.buf.length * 2
    while (length < this.pos + size) length *= 2
    const bigger = Buffer.allocUnsafe(length)
    this.buf.copy(bigger, 0, 0, this.pos)
    this.buf = bigger
  }

  byte(value: number): void {
    this.buf[this.pos++] = value
  }

  /** A non-negative integer below 2^53 as a varint. */
  varint(value: number): void {
    const buf = this.buf
    while (value > 0x7fffffff) {
      buf[this.pos++] = (value % 128) | 0x80
      value = Math.floor(value / 128)
    }
    while (value > 0x7f) {
      buf[this.pos++] = (value & 0x7f) | 0x80
      value >>>= 7
    }
    buf[this.pos++] = value
  }

  /** A signed 64-bit integer (protobuf `int64`): a negative one as its two's complement, ten bytes. */
  int64(value: number): void {
    if (value >= 0) return this.varint(value)
    // Two's complement of |value| over 64 bits, as two 32-bit halves.
    let low = ~(-value % 0x100000000) >>> 0
    let high = ~Math.floor(-value / 0x100000000) >>> 0
    low = (low + 1) >>> 0
    if (low === 0) high = (high + 1) >>> 0
    for (let i = 0; i < 4; i++) {
      this.byte((low & 0x7f) | 0x80)
      low >>>= 7
    }
    this.byte((low & 0x0f) | ((high & 0x07) << 4) | 0x80)
    high >>>= 3
    for (let i = 0; i < 4; i++) {
      this.byte((high & 0x7f) | 0x80)
      high >>>= 7
    }
    this.byte(high & 0x01)
  }

  /** A 32-bit unsigned integer, little-endian. */
  fixed32(value: number): void {
    const buf = this.buf
    let at = this.pos
    buf[at++] = value
    buf[at++] = value >>> 8
    buf[at++] = value >>> 16
    buf[at++] = value >>> 24
    this.pos = at
  }

  /**
   * A time as fixed64 nanoseconds since the epoch. Seconds times 10^9 passes 2^53, so it is split: 10^9 is
   * 15258 × 2^16 + 51712, and each product stays an exact integer. (`%` on such numbers is a call to fmod.)
   */
  time([seconds, nanos]: HrTime): void {
    const shifted = seconds * 15258 // × 2^16 below; < 2^46
    const shiftedHigh = Math.floor(shifted / 0x10000)
    let low = (shifted - shiftedHigh * 0x10000) * 0x10000 + seconds * 51712 + nanos
    const carry = Math.floor(low / 0x100000000)
    low -= carry * 0x100000000
    this.fixed32(low)
    this.fixed32(shiftedHigh + carry)
  }

  /**
   * A length-delimited string (tag written by the caller). A short ASCII string is copied in a loop: a call into
   * Buffer's native code costs more than its few bytes.
   */
  string(value: string): void {
    const length = value.length
    if (length <= SHORT_STRING) {
      this.ensure(1 + SHORT_STRING * 3)
      const buf = this.buf
      const at = this.pos + 1
      let i = 0
      for (; i < length; i++) {
        const code = value.charCodeAt(i)
        if (code >= 0x80) break
        buf[at + i] = code
      }
      // Not ASCII: the rest as UTF-8, by Buffer.
      if (i < length) i += buf.write(value.slice(i), at + i)
      buf[at - 1] = i
      this.pos = at + i
      return
    }
    const bytes = Buffer.byteLength(value)
    this.ensure(5 + bytes)
    this.varint(bytes)
    this.pos += this.buf.write(value, this.pos)
  }

  /** An id given in hex (trace and span ids, as the API keeps them) as a length-delimited run of its bytes. */
  hexBytes(hex: string): void {
    const bytes = hex.length >>> 1
    this.ensure(1 + bytes)
    const buf = this.buf
    let at = this.pos
    buf[at++] = bytes
    for (let i = 0; i < hex.length; i += 2) buf[at++] = HEX_PAIR[((hex.charCodeAt(i) & 0x7f) << 7) | (hex.charCodeAt(i + 1) & 0x7f)]!
    this.pos = at
  }

  /** Bytes copied as they are: by TypedArray#set, a copy in native code that a loop of JavaScript costs more than. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
  }

  /**
   * Starts a nested message whose length is not known yet: room for a `reserve`-byte length is left, and `end`
   * writes it there, moving the message when its length needs another number of bytes.
   */
  begin(reserve: number): number {
    this.ensure(reserve)
    const at = this.pos
    this.pos += reserve
    return at
  }

  end(at: number, reserve: number): void {
    const length = this.pos - at - reserve
    const size = length <= 0x7f ? 1 : length <= 0x3fff ? 2 : length <= 0x1fffff ? 3 : length <= 0xfffffff ? 4 : 5
    if (size !== reserve) {
      this.ensure(size - reserve)
      this.buf.copyWithin(at + size, at + reserve, this.pos)
      this.pos += size - reserve
    }
    const end = this.pos
    this.pos = at
    this.varint(length)
    this.pos = end
  }
}


/** A `KeyValue` at most this long is kept as one of the last two of its key. */
const KEPT_PAIR_BYTES = 128

/**
 * An attribute key: its `KeyValue.key` (tag and length included), and the last two values written under it, each
 * with its whole `KeyValue` (length, key, value). The gateway sets the same values request after request (method,
 * scheme, addresses, endpoint, status; two of them, as `server.port` of the server and of the attempt), and a copy
 * of their bytes costs a fraction of encoding them again.
 */
class AttributeKey {
  readonly key: Buffer
  #lastValue: unknown = undefined
  #last: Uint8Array | undefined
  #previousValue: unknown = undefined
  #previous: Uint8Array | undefined

  constructor(key: string) {
    const utf8 = Buffer.from(key)
    const head = [tag(1, LENGTH)]
    for (let length = utf8.length; ; length >>>= 7) {
      if (length <= 0x7f) {
        head.push(length)
        break
      }
      head.push((length & 0x7f) | 0x80)
    }
    this.key = Buffer.concat([Buffer.from(head), utf8])
  }

  /** Writes the kept `KeyValue` of `value`, if one is. */
  writeKept(w: Writer, value: unknown): boolean {
    if (value === this.#lastValue) w.raw(this.#last!)
    else if (value === this.#previousValue) w.raw(this.#previous!)
    else return false
    return true
  }

  /** Keeps the `KeyValue` just written from `at`, of a value that `===` compares by content. */
  keep(value: unknown, w: Writer, at: number): void {
    const length = w.pos - at
    if (length > KEPT_PAIR_BYTES || (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')) return
    this.#previousValue = this.#lastValue
    this.#previous = this.#last
    this.#lastValue = value
    this.#last = Buffer.copyBytesFrom(w.buf, at, length)
  }
}

const attributeKeys = new Map<string, AttributeKey>()

function attributeKey(key: string): AttributeKey {
  let known = attributeKeys.get(key)
  if (known === undefined) {
    known = new AttributeKey(key)
    // Keys come from code (semantic conventions, the gateway's own), not from traffic; the bound is a safeguard.
    if (attributeKeys.size < 4096) attributeKeys.set(key, known)
  }
  return known
}

/** Span attributes, resource attributes: repeated KeyValue in `field`. */
function attributes(w: Writer, field: number, values: Readonly<Record<string, unknown>>): void {
  for (const key in values) {
    const value = values[key]
    if (value === undefined) continue
    const known = attributeKey(key)
    w.ensure(1)
    w.byte(tag(field, LENGTH))
    if (known.writeKept(w, value)) continue
    const pair = w.begin(1)
    w.raw(known.key)
    w.ensure(8)
    w.byte(tag(2, LENGTH))
    const any = w.begin(1)
    anyValue(w, value)
    w.end(any, 1)
    w.end(pair, 1)
    known.keep(value, w, pair)
  }
}

/** The body of an `AnyValue`; what the SDK's serializer writes nothing for (null, objects) stays empty. */
function anyValue(w: Writer, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.byte(tag(1, LENGTH))
      w.string(value)
      return
    case 'boolean':
      w.byte(tag(2, VARINT))
      w.byte(value ? 1 : 0)
      return
    case 'number':
      w.ensure(11)
      if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) {
        w.byte(tag(3, VARINT))
        w.int64(value)
      } else {
        w.byte(tag(4, FIXED64))
        w.buf.writeDoubleLE(value, w.pos)
        w.pos += 8
      }
      return
  }
  if (value instanceof Uint8Array) {
    w.byte(tag(7, LENGTH))
    w.ensure(5)
    w.varint(value.length)
    w.raw(value)
  } else if (Array.isArray(value)) {
    w.byte(tag(5, LENGTH))
    const array = w.begin(2)
    for (const item of value) {
      w.ensure(4)
      w.byte(tag(1, LENGTH))
      const element = w.begin(1)
      anyValue(w, item)
      w.end(element, 1)
    }
    w.end(array, 2)
  }
}

/** A length-delimited string field: its tag, then the string (which makes room for its own length and bytes). */
function stringField(w: Writer, field: number, value: string): void {
  w.ensure(1)
  w.byte(tag(field, LENGTH))
  w.string(value)
}

function countField(w: Writer, field: number, count: number): void {
  if (count === 0) return
  w.ensure(11)
  w.byte(tag(field, VARINT))
  w.varint(count)
}

function flags(context: SpanContext, isRemote: boolean | undefined): number {
  return (context.traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0)
}

function event(w: Writer, item: TimedEvent): void {
  w.ensure(16)
  w.byte(tag(11, LENGTH))
  const at = w.begin(2)
  w.byte(tag(1, FIXED64))
  w.time(item.time)
  w.byte(tag(2, LENGTH))
  w.string(item.name)
  if (item.attributes) attributes(w, 3, item.attributes)
  countField(w, 4, item.droppedAttributesCount ?? 0)
  w.end(at, 2)
}

function link(w: Writer, item: Link): void {
  w.ensure(48)
  w.byte(tag(13, LENGTH))
  const at = w.begin(2)
  w.byte(tag(1, LENGTH))
  w.hexBytes(item.context.traceId)
  w.byte(tag(2, LENGTH))
  w.hexBytes(item.context.spanId)
  const state = item.context.traceState?.serialize()
  if (state) {
    w.byte(tag(3, LENGTH))
    w.string(state)
  }
  if (item.attributes) attributes(w, 4, item.attributes)
  countField(w, 5, item.droppedAttributesCount ?? 0)
  w.ensure(5)
  w.byte(tag(6, FIXED32))
  w.fixed32(flags(item.context, item.context.isRemote))
  w.end(at, 2)
}

/** One `Span` of a `ScopeSpans`, tag and length included. */
function span(w: Writer, item: ReadableSpan): void {
  const context = item.spanContext()
  const parent = item.parentSpanContext
  // Tag and length of the span, ids with their tags, kind, both times with their tags.
  w.ensure(3 + 18 + 10 + 2 + 18 + 18)
  w.byte(tag(2, LENGTH))
  const at = w.begin(2)
  w.byte(tag(1, LENGTH))
  w.hexBytes(context.traceId)
  w.byte(tag(2, LENGTH))
  w.hexBytes(context.spanId)
  const state = context.traceState?.serialize()
  if (state) stringField(w, 3, state)
  if (parent?.spanId) {
    w.ensure(11)
    w.byte(tag(4, LENGTH))
    w.hexBytes(parent.spanId)
  }
  stringField(w, 5, item.name)
  w.ensure(20)
  // The API's kinds start at INTERNAL = 0; OTLP's at UNSPECIFIED = 0.
  w.byte(tag(6, VARINT))
  w.byte(item.kind + 1)
  w.byte(tag(7, FIXED64))
  w.time(item.startTime)
  w.byte(tag(8, FIXED64))
  w.time(item.endTime)
  attributes(w, 9, item.attributes)
  countField(w, 10, item.droppedAttributesCount)
  for (const each of item.events) event(w, each)
  countField(w, 12, item.droppedEventsCount)
  for (const each of item.links) link(w, each)
  countField(w, 14, item.droppedLinksCount)
  // Status: always written, as the SDK does (code UNSET is 0).
  w.ensure(8)
  w.byte(tag(15, LENGTH))
  const status = w.begin(1)
  if (item.status.message) {
    w.byte(tag(2, LENGTH))
    w.string(item.status.message)
  }
  w.ensure(3)
  w.byte(tag(3, VARINT))
  w.byte(item.status.code)
  w.end(status, 1)
  // Field 16 takes a two-byte tag.
  w.ensure(6)
  w.byte((tag(16, FIXED32) & 0x7f) | 0x80)
  w.byte(tag(16, FIXED32) >>> 7)
  w.fixed32(flags(context, parent?.isRemote))
  w.end(at, 2)
}

/** A varint's length in bytes. */
const varintSize = (value: number) => (value <= 0x7f ? 1 : value <= 0x3fff ? 2 : value <= 0x1fffff ? 3 : value <= 0xfffffff ? 4 : 5)

/**
 * The resource and instrumentation scope that a batch's spans share, encoded once: the fields of a
 * `ResourceSpans` before its `ScopeSpans` (the `Resource`, its schema URL) and those of the `ScopeSpans` before
 * its spans (the scope, its schema URL). Protobuf reads fields in any order, so the schema URLs, which the SDK
 * writes after the spans, are written before them.
 */
export class SpanOrigin {
  readonly resourceFields: Buffer
  readonly scopeFields: Buffer
  /** Room left in front of a batch's spans for the framing: both parts, two tags and two lengths. */
  readonly reserve: number
  /** Bytes per span of the last request, to size the next batch's buffer. */
  bytesPerSpan = 512

  constructor(resource: Resource, scope: ReadableSpan['instrumentationScope']) {
    const w = new Writer(1024)
    w.ensure(4)
    w.byte(tag(1, LENGTH))
    const resourceAt = w.begin(2)
    attributes(w, 1, resource.attributes)
    w.end(resourceAt, 2)
    if (resource.schemaUrl) stringField(w, 3, resource.schemaUrl)
    this.resourceFields = Buffer.from(w.buf.subarray(0, w.pos))
    w.pos = 0
    w.ensure(4)
    w.byte(tag(1, LENGTH))
    const scopeAt = w.begin(1)
    stringField(w, 1, scope.name)
    if (scope.version) stringField(w, 2, scope.version)
    w.end(scopeAt, 1)
    if (scope.schemaUrl) stringField(w, 3, scope.schemaUrl)
    this.scopeFields = Buffer.from(w.buf.subarray(0, w.pos))
    this.reserve = 2 * (1 + 5) + this.resourceFields.length + this.scopeFields.length
  }
}

/**
 * Spans of one origin, each encoded as it is added, in a buffer that becomes one `ExportTraceServiceRequest`:
 * after `origin.reserve` bytes of room, the `Span` messages follow one another as a `ScopeSpans` holds them.
 */
export class EncodedSpans {
  readonly #origin: SpanOrigin
  readonly #writer: Writer
  /** Spans added. */
  count = 0

  /** `expected`: how many spans the batch will hold at most, to size its buffer. */
  constructor(origin: SpanOrigin, expected: number) {
    this.#origin = origin
    this.#writer = new Writer(origin.reserve + Math.max(4096, Math.ceil(expected * origin.bytesPerSpan * 1.25)))
    this.#writer.pos = origin.reserve
  }

  /** Encodes a span; throws (and adds nothing) if it cannot be. */
  add(item: ReadableSpan): void {
    const w = this.#writer
    const at = w.pos
    try {
      span(w, item)
    } catch (error) {
      w.pos = at
      throw error
    }
    this.count++
  }

  /** The request: the framing written in front of the spans, which are not copied. */
  request(): Uint8Array {
    const origin = this.#origin
    const w = this.#writer
    const end = w.pos
    const spanBytes = end - origin.reserve
    if (this.count > 0) origin.bytesPerSpan = spanBytes / this.count
    const scopeSpans = origin.scopeFields.length + spanBytes
    const resourceSpans = origin.resourceFields.length + 1 + varintSize(scopeSpans) + scopeSpans
    const start = origin.reserve - (1 + varintSize(resourceSpans) + resourceSpans - scopeSpans + origin.scopeFields.length)
    w.pos = start
    w.byte(tag(1, LENGTH))
    w.varint(resourceSpans)
    w.raw(origin.resourceFields)
    w.byte(tag(2, LENGTH))
    w.varint(scopeSpans)
    w.raw(origin.scopeFields)
    w.pos = end
    return w.buf.subarray(start, end)
  }
}

/** Sends an `EncodedSpans` batch as its request, through the SDK's OTLP export; the SDK reads the response. */
export const encodedSpansSerializer: ISerializer<EncodedSpans, IExportTraceServiceResponse> = {
  serializeRequest: (batch) => batch.request(),
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
}
