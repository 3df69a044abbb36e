import { z } from 'zod'
import { Duration } from '../core/duration.ts'

/**
 * OpenTelemetry tracing: off unless `tracing` is set. Spans go as OTLP over HTTP (protobuf) to `endpoint`, in
 * batches, from a bounded queue that drops spans (and counts them) rather than grow when the collector is slow.
 */
export const Tracing = z
  .strictObject({
    /** The collector's OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`. */
    endpoint: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    /** Share of new traces recorded; a request whose client sent a sampled (or unsampled) traceparent follows it. */
    sampleRatio: z.number().min(0).max(1).default(1),
    /** `service.name` of every span. */
    serviceName: z.string().min(1).default('portico'),
    /** Spans waiting for export at most; more are dropped and counted in portico_trace_spans_dropped_total. */
    maxQueueSize: z.number().int().min(1).max(1_000_000).default(2048),
    /** Spans per export request at most. */
    maxExportBatchSize: z.number().int().min(1).max(1_000_000).default(512),
    /** How long a span may wait before its batch is sent. */
    scheduledDelay: Duration.default(2000),
    /** How long one export request may take before it is abandoned (its spans counted as dropped). */
    exportTimeout: Duration.default(10_000),
  })
  .refine((tracing) => tracing.maxExportBatchSize <= tracing.maxQueueSize, {
    message: 'maxExportBatchSize must not exceed maxQueueSize',
    path: ['maxExportBatchSize'],
  })

export type TracingConfig = z.output<typeof Tracing>

/** Traffic analytics in memory, served on the admin port at /admin/analytics. */
export const Analytics = z.strictObject({
  enabled: z.boolean().default(false),
  /** Distinct API, resource and application combinations kept at most; the rest are counted together as "(other)". */
  maxSeries: z.number().int().min(1).max(100_000).default(1000),
})

export const Telemetry = z.strictObject({
  tracing: Tracing.optional(),
  analytics: Analytics.prefault({}),
})

export type TelemetryConfig = z.output<typeof Telemetry>
