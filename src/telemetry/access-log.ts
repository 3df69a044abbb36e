import pino from 'pino'
import { JSON_LOGS, type LogFormat } from './log-format.ts'

/** One access-log line; docs/observability.md#access-log documents each field, and a test holds the two together. */
export interface AccessLogEntry {
  /** When the line was written, in milliseconds since the epoch: first, so the entry is the line as it is. */
  time: number
  requestId: string
  /** The OpenTelemetry trace id, when the request is traced or its client sent one. */
  traceId?: string
  method: string
  path: string
  status: number
  api?: string
  resource?: string
  endpoint?: string
  environment?: string
  /** The consumer's subject and application on an API with consumer authentication; never a credential. */
  subject?: string
  application?: string
  /** Error code when the gateway answered with an error. */
  code?: string
  /** The policy that refused the request (a rate limit), when one did. */
  policy?: string
  client: string
  durationMs: number
  /** Time until the backend's response headers, when a backend was called. */
  upstreamMs?: number
}

/** Lines are handed to the destination in batches of about this many bytes (sonic-boom's largest single write). */
const BATCH_BYTES = 16 * 1024

/**
 * One JSON line per request, written asynchronously in batches to keep it off the request's critical path;
 * a timer hands over what a quiet second leaves in the buffer. Each line is one JSON.stringify, and the destination
 * (pino's sonic-boom, which handles partial writes, EAGAIN and mkdir) gets one string per batch: logging each
 * line through pino cost about 7.5 µs of CPU per request here, this about 2.5.
 */
export class AccessLog {
  readonly #destination: ReturnType<typeof pino.destination>
  readonly #timer: NodeJS.Timeout
  readonly #line: (entry: object) => string
  #lines: string[] = []
  #bytes = 0

  /** To `path`, as JSON lines; or to standard output, in `format`. */
  constructor(path: string | undefined, format: LogFormat = JSON_LOGS) {
    this.#line = path === undefined ? format.accessLine : JSON_LOGS.accessLine
    this.#destination = pino.destination({ dest: path ?? 1, sync: false, mkdir: path !== undefined })
    // Hands over what a quiet second left behind; the destination writes it asynchronously. Not flushSync: that
    // writes and fsyncs on the event loop, stalling every request for as long as the disk takes.
    this.#timer = setInterval(() => this.#handOver(), 1000).unref()
  }

  write(entry: AccessLogEntry): void {
    // The entry itself, not a copy with the time spread in: a spread builds the object key by key.
    const line = this.#line(entry)
    this.#lines.push(line)
    this.#bytes += line.length
    if (this.#bytes >= BATCH_BYTES) this.#handOver()
  }

  /** Writes out everything, synchronously: for shutdown, where nothing may be lost. */
  close(): void {
    clearInterval(this.#timer)
    this.#handOver()
    try {
      this.#destination.flushSync()
    } catch {
      // The destination is not open yet: nothing was written to flush.
    }
  }

  #handOver(): void {
    if (this.#lines.length === 0) return
    this.#destination.write(this.#lines.join(''))
    this.#lines = []
    this.#bytes = 0
  }
}
