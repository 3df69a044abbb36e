import { Agent, request } from 'undici'
import type { HealthCheckConfig } from './schema.ts'

const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i

/** The URL a leaf's health check probes: `healthCheck.url`, or `healthCheck.path` on the origin of the leaf's `url`. */
export function healthCheckUrl(check: HealthCheckConfig, leafId: string, leafUrl: unknown): string {
  if (check.url) return check.url
  const origin = typeof leafUrl === 'string' ? ORIGIN.exec(leafUrl)?.[0] : undefined
  if (!origin) throw new Error(`endpoint ${leafId}: healthCheck needs a url, because this endpoint type has no url to take the origin from`)
  return `${origin}${check.path}`
}

/**
 * Probes one URL with GET every `interval`; a status below 400 within `timeout` passes. Reports each result;
 * thresholds are the caller's business. Probes never overlap: a slow one delays the next.
 */
export class HealthChecker {
  readonly url: string
  readonly #timeout: number
  readonly #interval: number
  readonly #report: (passed: boolean, detail: string) => void
  /** Connects as the leaf does (client certificate, CAs), so a backend with a private CA can pass its check. */
  readonly #dispatcher: Agent
  #timer: NodeJS.Timeout | undefined
  #stopped = false

  constructor(url: string, config: HealthCheckConfig, report: (passed: boolean, detail: string) => void, tls: object = {}) {
    this.url = url
    this.#timeout = config.timeout
    this.#interval = config.interval
    this.#report = report
    this.#dispatcher = new Agent({ connect: { timeout: config.timeout, ...tls } })
  }

  start(): void {
    this.#schedule(0)
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    void this.#dispatcher.close()
  }

  #schedule(delay: number): void {
    if (this.#stopped) return
    // unref: a pending probe must not keep a stopping process alive.
    this.#timer = setTimeout(() => void this.#probe(), delay).unref()
  }

  async #probe(): Promise<void> {
    let passed = false
    let detail: string
    try {
      const response = await request(this.url, {
        method: 'GET',
        dispatcher: this.#dispatcher,
        headers: { 'user-agent': 'portico-health-check' },
        // A new connection each time, as HAProxy's checks do: a kept-alive socket can outlive a dead listener.
        reset: true,
        headersTimeout: this.#timeout,
        bodyTimeout: this.#timeout,
        signal: AbortSignal.timeout(this.#timeout),
      })
      await response.body.dump()
      passed = response.statusCode < 400
      detail = `status ${response.statusCode}`
    } catch (error) {
      const err = error as { name?: string; code?: unknown; message?: string }
      // The abort signal's TimeoutError carries a numeric DOMException code, which says nothing to a reader.
      if (err.name === 'TimeoutError') detail = `no answer within ${this.#timeout} ms`
      else detail = typeof err.code === 'string' ? err.code : (err.message ?? String(error))
    }
    if (this.#stopped) return
    this.#report(passed, detail)
    this.#schedule(this.#interval)
  }
}
