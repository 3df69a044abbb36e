import { TraceFlags } from '@opentelemetry/api'
import { ExportResultCode, type ExportResult } from '@opentelemetry/core'
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { EncodedSpans, type SpanOrigin } from './otlp-protobuf.ts'

/** Why spans were lost: the queue was full, or the collector did not take a batch (or a span could not be encoded). */
export type SpanDropReason = 'queue-full' | 'export-failed'

export interface SpanQueueLimits {
  /** Spans encoded and not yet handed to the exporter, at most; more are dropped. */
  readonly maxQueueSize: number
  /** Spans per export request at most. */
  readonly maxExportBatchSize: number
  /** Milliseconds a span may wait before its batch is sent. */
  readonly scheduledDelay: number
  /** Milliseconds an export may take before the next batch goes. */
  readonly exportTimeout: number
}

/** What sends a batch: the SDK's OTLP/HTTP export with the serializer of otlp-protobuf.ts. */
export interface EncodedSpansExporter {
  export(batch: EncodedSpans, done: (result: ExportResult) => void): void
  shutdown(): Promise<void>
}

/**
 * The SDK's `BatchSpanProcessor`, but holding bytes instead of spans: each sampled span is encoded to OTLP
 * protobuf when it ends, into the batch being filled, and the span object is left to die young. With the SDK's
 * processor each ended span (some 15 objects) waited in the queue until its batch was sent, and the queue was most
 * of what survived each young-generation collection.
 *
 * It behaves as the SDK's does: at most `maxQueueSize` spans wait (more are dropped and counted), a batch goes
 * when it holds `maxExportBatchSize` spans or `scheduledDelay` after its first span, one export at a time (the
 * next starts when it answers or after `exportTimeout`), a failed export's spans are counted as lost, and a
 * shutdown sends everything queued, batch after batch, and takes no more spans.
 *
 * It serves the spans of one tracer of one provider: every span is written under the resource and scope of
 * `origin`.
 */
export class EncodingSpanProcessor implements SpanProcessor {
  readonly #origin: SpanOrigin
  readonly #exporter: EncodedSpansExporter
  readonly #limits: SpanQueueLimits
  readonly #dropped: (reason: SpanDropReason, count: number) => void
  /** Full batches waiting for the exporter, oldest first. */
  readonly #full: EncodedSpans[] = []
  /** The batch that ended spans are written into, once one has. */
  #filling: EncodedSpans | undefined
  /** Spans encoded and not yet handed to the exporter: what `maxQueueSize` bounds. */
  #queued = 0
  #timer: NodeJS.Timeout | undefined
  /** The export under way: settles when it answers or times out. */
  #exporting: Promise<void> | undefined
  #shutdown: Promise<void> | undefined

  constructor(origin: SpanOrigin, exporter: EncodedSpansExporter, limits: SpanQueueLimits, dropped: (reason: SpanDropReason, count: number) => void) {
    this.#origin = origin
    this.#exporter = exporter
    this.#limits = limits
    this.#dropped = dropped
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#shutdown !== undefined || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return
    if (this.#queued >= this.#limits.maxQueueSize) {
      this.#dropped('queue-full', 1)
      return
    }
    const batch = (this.#filling ??= new EncodedSpans(this.#origin, this.#limits.maxExportBatchSize))
    try {
      batch.add(span)
    } catch {
      // A span the encoder cannot write (none is known) is lost, not the request that ended it.
      this.#dropped('export-failed', 1)
      return
    }
    this.#queued++
    if (batch.count >= this.#limits.maxExportBatchSize) {
      this.#full.push(batch)
      this.#filling = undefined
      this.#exportNext()
    } else if (this.#timer === undefined && this.#exporting === undefined) {
      this.#startTimer()
    }
  }

  forceFlush(): Promise<void> {
    return this.#shutdown ?? this.#exportAll()
  }

  shutdown(): Promise<void> {
    return (this.#shutdown ??= this.#exportAll().then(() => this.#exporter.shutdown()))
  }

  #startTimer(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#exportNext()
    }, this.#limits.scheduledDelay)
    this.#timer.unref()
  }

  /** Hands the oldest batch to the exporter, unless an export is under way. */
  #exportNext(): void {
    if (this.#exporting !== undefined) return
    clearTimeout(this.#timer)
    this.#timer = undefined
    const batch = this.#full.shift() ?? this.#filling
    if (batch === undefined) return
    if (batch === this.#filling) this.#filling = undefined
    this.#queued -= batch.count
    this.#exporting = this.#export(batch).then(() => {
      this.#exporting = undefined
      if (this.#full.length > 0) this.#exportNext()
      else if (this.#filling !== undefined && this.#timer === undefined) this.#startTimer()
    })
  }

  #export(batch: EncodedSpans): Promise<void> {
    return new Promise((resolve) => {
      // Waiting longer for this export would hold up the next batch; its own result still counts when it comes.
      const timer = setTimeout(resolve, this.#limits.exportTimeout)
      timer.unref()
      try {
        this.#exporter.export(batch, (result) => {
          if (result.code !== ExportResultCode.SUCCESS) this.#dropped('export-failed', batch.count)
          clearTimeout(timer)
          resolve()
        })
      } catch {
        this.#dropped('export-failed', batch.count)
        clearTimeout(timer)
        resolve()
      }
    })
  }

  /** Sends every queued span, batch after batch. */
  async #exportAll(): Promise<void> {
    for (;;) {
      if (this.#exporting !== undefined) await this.#exporting
      else if (this.#full.length > 0 || this.#filling !== undefined) this.#exportNext()
      else return
    }
  }
}
