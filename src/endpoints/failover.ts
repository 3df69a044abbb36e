import type { FailoverEndpointConfig } from './group-schema.ts'
import { sendInTurn, type AttemptLimits } from '../resilience/attempts.ts'
import type { BackendResponse, Endpoint, EndpointStatus, Exchange } from '../core/endpoint.ts'

/**
 * An ordered list of endpoints: the request goes to the first ready one, and when that fails, to the next
 * ready one after it (wrapping round), until one answers or every one was tried.
 */
export class FailoverGroup implements Endpoint {
  readonly id: string
  readonly isPrototype: boolean
  readonly #children: readonly Endpoint[]
  readonly #returnToPrimary: boolean
  readonly #limits: AttemptLimits
  /** Where the next request starts: always the primary with returnToPrimary, else the last one that worked. */
  #current = 0

  constructor(id: string, config: FailoverEndpointConfig, children: readonly Endpoint[]) {
    this.id = id
    this.#children = children
    this.isPrototype = children.every((child) => child.isPrototype)
    this.#returnToPrimary = config.returnToPrimary
    this.#limits = {
      maxAttempts: Math.min(config.maxAttempts ?? children.length, children.length),
      totalTimeout: config.totalTimeout,
      replayBufferBytes: config.replayBufferBytes,
      retryNonIdempotent: config.retryNonIdempotent,
    }
  }

  async send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    const children = this.#children
    const start = this.#returnToPrimary ? 0 : this.#current
    const { response, index } = await sendInTurn(this.id, children, exchange, signal, this.#limits, {
      next(tried, now) {
        for (let step = 0; step < children.length; step++) {
          const index = (start + step) % children.length
          if (!tried.has(index) && children[index]!.ready(now)) return index
        }
        return undefined
      },
    })
    this.#current = index
    return response
  }

  ready(now: number): boolean {
    return this.#children.some((child) => child.ready(now))
  }

  describe(): EndpointStatus {
    return {
      id: this.id,
      type: 'failover',
      state: this.ready(Date.now()) ? 'active' : 'unavailable',
      returnToPrimary: this.#returnToPrimary,
      current: this.#children[this.#current]!.id,
      children: this.#children.map((child) => child.describe()),
    }
  }

  /** The children are endpoints of the snapshot in their own right; the snapshot closes them. */
  async close(): Promise<void> {}
}
