import pino from 'pino'

export interface AccessLogEntry {
  requestId: string
  method: string
  path: string
  status: number
  api?: string
  resource?: string
  endpoint?: string
  environment?: string
  /** Error code when the gateway answered with an error. */
  code?: string
  client: string
  durationMs: number
  /** Time until the backend's response headers, when a backend was called. */
  upstreamMs?: number
}

/**
 * One JSON line per request, written asynchronously in batches to keep it off the request's critical path;
 * a timer flushes what a quiet period leaves in the buffer.
 */
export class AccessLog {
  readonly #destination: ReturnType<typeof pino.destination>
  readonly #logger: pino.Logger
  readonly #timer: NodeJS.Timeout

  constructor(path: string | undefined) {
    this.#destination = pino.destination({ dest: path ?? 1, sync: false, minLength: 4096, mkdir: path !== undefined })
    this.#logger = pino({ base: null, messageKey: 'msg' }, this.#destination)
    this.#timer = setInterval(() => this.flush(), 1000).unref()
  }

  write(entry: AccessLogEntry): void {
    this.#logger.info(entry)
  }

  flush(): void {
    try {
      this.#destination.flushSync()
    } catch {
      // The destination is not open yet: nothing was written to flush.
    }
  }

  close(): void {
    clearInterval(this.#timer)
    this.flush()
  }
}
