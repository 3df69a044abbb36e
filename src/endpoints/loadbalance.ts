import { finished } from 'node:stream'
import type { LoadBalanceEndpointConfig } from './group-schema.ts'
import { createPolicy } from '../balancing/policies.ts'
import type { BalancingPolicy } from '../balancing/policy.ts'
import { StickySessions } from '../balancing/sticky-session.ts'
import { soapSessionIdOffLoop } from '../soap/envelope-thread.ts'
import { envelopeOf } from '../soap/multipart-related.ts'
import { sendInTurn, type AttemptLimits } from '../resilience/attempts.ts'
import { ReplayableBody } from '../resilience/replay.ts'
import type { BackendResponse, Endpoint, EndpointStatus, Exchange } from '../core/endpoint.ts'

/**
 * Spreads requests over its ready endpoints with one balancing policy; a request whose session is bound to a
 * ready endpoint goes there. A failed attempt goes to another ready endpoint the policy picks.
 */
export class LoadBalanceGroup implements Endpoint {
  readonly id: string
  readonly isPrototype: boolean
  readonly #children: readonly Endpoint[]
  readonly #algorithm: string
  readonly #policy: BalancingPolicy
  readonly #sessions: StickySessions | undefined
  readonly #limits: AttemptLimits
  /** Requests in flight per child, until the response body ends: what the least-loaded policies compare. */
  readonly #load: number[]
  readonly #served: number[]

  constructor(id: string, config: LoadBalanceEndpointConfig, children: readonly Endpoint[]) {
    this.id = id
    this.#children = children
    this.isPrototype = children.every((child) => child.isPrototype)
    this.#algorithm = config.algorithm
    this.#policy = createPolicy(config.algorithm, config.weights, children.length)
    const session = config.session
    // A SOAP session's id is a header of the request's envelope: the group, not the policy, knows how to read it.
    const bodyKey =
      session?.type === 'soap'
        ? async (body: Buffer, contentType: string | undefined) => {
            // An MTOM request keeps its envelope, and so its SOAP headers, in the root part.
            const envelope = await envelopeOf(body, contentType)
            return envelope ? soapSessionIdOffLoop(envelope, session.soapHeader) : undefined
          }
        : undefined
    this.#sessions = session ? new StickySessions(id, session, children.map((child) => child.id), bodyKey) : undefined
    this.#load = children.map(() => 0)
    this.#served = children.map(() => 0)
    this.#limits = {
      maxAttempts: config.failover ? Math.min(config.maxAttempts ?? children.length, children.length) : 1,
      totalTimeout: config.totalTimeout,
      replayBufferBytes: config.replayBufferBytes,
      retryNonIdempotent: config.retryNonIdempotent,
    }
  }

  async send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    if (this.#sessions?.readsBody) {
      // A SOAP session id sits in the envelope: buffer it (within the replay limit) before choosing.
      const body = await ReplayableBody.prepare(exchange, this.#limits.replayBufferBytes, this.id)
      if (!body.buffered) body.attach(exchange)
      await this.#sessions.readBodyKey(exchange)
    }
    const found = this.#sessions?.find(exchange, Date.now())
    const sticky = found instanceof Promise ? await found : found
    const { response, index } = await sendInTurn(this.id, this.#children, exchange, signal, this.#limits, {
      next: (tried, now) => this.#next(tried, now, sticky),
      started: (index) => this.#load[index]!++,
      settled: (index, response) => this.#settled(index, response),
    })
    this.#served[index]!++
    const bound = this.#sessions?.bind(exchange, index, response, Date.now())
    // In a cluster a new binding is known to every worker before the client sees the response.
    if (bound) await bound
    return response
  }

  #next(tried: ReadonlySet<number>, now: number, sticky: number | undefined): number | undefined {
    if (sticky !== undefined && !tried.has(sticky) && this.#children[sticky]!.ready(now)) return sticky
    const candidates: number[] = []
    for (let index = 0; index < this.#children.length; index++) {
      if (!tried.has(index) && this.#children[index]!.ready(now)) candidates.push(index)
    }
    if (candidates.length === 0) return undefined
    return this.#policy.select(candidates, this.#load)
  }

  #settled(index: number, response: BackendResponse | undefined): void {
    if (!response?.body) {
      this.#load[index]!--
      return
    }
    finished(response.body, () => this.#load[index]!--)
  }

  ready(now: number): boolean {
    return this.#children.some((child) => child.ready(now))
  }

  describe(): EndpointStatus {
    return {
      id: this.id,
      type: 'loadbalance',
      state: this.ready(Date.now()) ? 'active' : 'unavailable',
      algorithm: this.#algorithm,
      ...(this.#sessions ? { sessions: this.#sessions.size } : {}),
      children: this.#children.map((child, index) => ({ ...child.describe(), served: this.#served[index], inFlight: this.#load[index] })),
    }
  }

  /** The children are endpoints of the snapshot in their own right; the snapshot closes them. */
  async close(): Promise<void> {
    this.#sessions?.close()
  }
}
