import type { HrTime, Link, SpanContext } from '@opentelemetry/api'
import type { ISerializer } from '@opentelemetry/otlp-transformer'
import { ProtobufTraceSerializer, type IExportTraceServiceResponse } from '@opentelemetry/otlp-transformer'
import type { Resource } from '@opentelemetry/resources'
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base'

/**
 * An OTLP `ExportTraceServiceRequest` in protobuf, written in one pass into a buffer kept between batches.
 *
 * Why not the SDK's serializer (`ProtobufTraceSerializer` of @opentelemetry/otlp-transformer): it walks every span
 * twice (once to estimate the size, once to write), copies each string character by character in JavaScript and
 * turns each id from hex with a loop of its own; at 100 % sampling it was a third of what tracing cost the
 * gateway. This one writes strings with `Buffer.write`, ids with the `hex` codec, and an attribute key's bytes once
 * per key. It writes what the SDK's does, field for field (the same messages, numbers and wire types of
 * opentelemetry/proto/trace/v1), and test/tracing.test.ts decodes its output with the official .proto files. The
 * wire format is stable (OTLP 1.0); the response is read by the SDK's own deserializer.
 */
export const otlpTraceSerializer: ISerializer<ReadableSpan[], IExportTraceServiceResponse> = {
  serializeRequest: (spans) => encodeTraceRequest(spans),
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
}

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

/** The value of each hex digit by its character code (ids are lowercase; uppercase is read too). */
const HEX = new Uint8Array(128)
for (let digit = 0; digit < 16; digit++) {
  HEX['0123456789abcdef'.charCodeAt(digit)] = digit
  HEX['0123456789ABCDEF'.charCodeAt(digit)] = digit
}

class Writer {
  buf = Buffer.allocUnsafe(0)
  pos = 0

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
    for (let i = 0; i < hex.length; i += 2) buf[at++] = (HEX[hex.charCodeAt(i)]! << 4) | HEX[hex.charCodeAt(i + 1)]!
    this.pos = at
  }

  raw(bytes: Uint8Array): void {
    const length = bytes.length
    this.ensure(length)
    const buf = this.buf
    const at = this.pos
    // An attribute key's few bytes: a loop costs less than a call into TypedArray#set.
    if (length <= 64) for (let i = 0; i < length; i++) buf[at + i] = bytes[i]!
    else buf.set(bytes, at)
    this.pos = at + length
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

  /**
   * Starts a request in a buffer of its own, about as large as the last one per span: the exporter keeps the bytes
   * until they are sent, so they are not copied out of a buffer kept between batches.
   */
  start(spans: number): void {
    this.buf = Buffer.allocUnsafeSlow(Math.max(4096, Math.ceil(spans * this.#bytesPerSpan * 1.25)))
    this.pos = 0
  }

  finish(spans: number): Uint8Array {
    if (spans > 0) this.#bytesPerSpan = this.pos / spans
    return this.buf.subarray(0, this.pos)
  }

  #bytesPerSpan = 512
}

const writer = new Writer()

/** `KeyValue.key` (tag and length included) of each attribute key seen, and the `KeyValue` tag of the field. */
const keys = new Map<string, Buffer>()

function keyBytes(key: string): Buffer {
  let bytes = keys.get(key)
  if (bytes === undefined) {
    const utf8 = Buffer.from(key)
    const head = [tag(1, LENGTH)]
    for (let length = utf8.length; ; length >>>= 7) {
      if (length <= 0x7f) {
        head.push(length)
        break
      }
      head.push((length & 0x7f) | 0x80)
    }
    bytes = Buffer.concat([Buffer.from(head), utf8])
    // Keys come from code (semantic conventions, the gateway's own), not from traffic; the bound is a safeguard.
    if (keys.size < 4096) keys.set(key, bytes)
  }
  return bytes
}

/** Span attributes, resource attributes: repeated KeyValue in `field`. */
function attributes(w: Writer, field: number, values: Readonly<Record<string, unknown>>): void {
  for (const key in values) {
    const value = values[key]
    if (value === undefined) continue
    w.ensure(8)
    w.byte(tag(field, LENGTH))
    const pair = w.begin(1)
    w.raw(keyBytes(key))
    w.ensure(8)
    w.byte(tag(2, LENGTH))
    const any = w.begin(1)
    anyValue(w, value)
    w.end(any, 1)
    w.end(pair, 1)
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
  if (state) {
    w.ensure(1)
    w.byte(tag(3, LENGTH))
    w.string(state)
  }
  if (parent?.spanId) {
    w.ensure(11)
    w.byte(tag(4, LENGTH))
    w.hexBytes(parent.spanId)
  }
  w.ensure(1)
  w.byte(tag(5, LENGTH))
  w.string(item.name)
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

function encodeTraceRequest(spans: ReadableSpan[]): Uint8Array {
  // Spans grouped by resource, then by instrumentation scope, in the order they came: one ResourceSpans per
  // resource, one ScopeSpans per scope (a gateway has one of each).
  const groups = new Map<Resource, Map<ReadableSpan['instrumentationScope'], ReadableSpan[]>>()
  for (const item of spans) {
    let scopes = groups.get(item.resource)
    if (scopes === undefined) groups.set(item.resource, (scopes = new Map()))
    let list = scopes.get(item.instrumentationScope)
    if (list === undefined) scopes.set(item.instrumentationScope, (list = []))
    list.push(item)
  }
  const w = writer
  w.start(spans.length)
  for (const [resource, scopes] of groups) {
    w.ensure(16)
    w.byte(tag(1, LENGTH))
    const resourceSpans = w.begin(3)
    w.byte(tag(1, LENGTH))
    const resourceAt = w.begin(2)
    attributes(w, 1, resource.attributes)
    w.end(resourceAt, 2)
    for (const [scope, list] of scopes) {
      w.ensure(16)
      w.byte(tag(2, LENGTH))
      const scopeSpans = w.begin(3)
      w.byte(tag(1, LENGTH))
      const scopeAt = w.begin(1)
      w.ensure(1)
      w.byte(tag(1, LENGTH))
      w.string(scope.name)
      if (scope.version) {
        w.ensure(1)
        w.byte(tag(2, LENGTH))
        w.string(scope.version)
      }
      w.end(scopeAt, 1)
      for (const item of list) span(w, item)
      if (scope.schemaUrl) {
        w.ensure(1)
        w.byte(tag(3, LENGTH))
        w.string(scope.schemaUrl)
      }
      w.end(scopeSpans, 3)
    }
    if (resource.schemaUrl) {
      w.ensure(1)
      w.byte(tag(3, LENGTH))
      w.string(resource.schemaUrl)
    }
    w.end(resourceSpans, 3)
  }
  return w.finish(spans.length)
}
