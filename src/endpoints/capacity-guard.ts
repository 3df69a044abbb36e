import { createHash } from 'node:crypto'
import type { BackendResponse, Endpoint, EndpointStatus, Exchange } from '../core/endpoint.ts'
import { EndpointError } from '../core/endpoint.ts'
import type { CapacityConfig } from './capacity-schema.ts'
import { Delegating, type Interceptor } from './interceptor.ts'
import type { LeafConfig } from './schema.ts'

/** Backend protection for a leaf that asks for it (`capacity`), none otherwise. */
export function capacityGuard(config: LeafConfig): Interceptor | undefined {
  const capacity = config.capacity
  return capacity && ((inner) => new CapacityGuard(inner, capacity))
}

/** Admits requests to one leaf within its capacity: `admit` says whether one may go; each admitted one is released. */
export interface CapacityGate {
  admit(signal: AbortSignal): Promise<boolean>
  release(): void
  close(): void
}

type GateFactory = (key: string, config: CapacityConfig) => CapacityGate

let createGate: GateFactory = (_key, config) => new LocalCapacityGate(config)

/**
 * Makes this process admit through `create`: a worker of `--workers N` asks its primary, which holds one gate per
 * leaf for all workers, so a backend sees the capacity it was given, not N times it. Call before the first snapshot.
 */
export function useCapacityGates(create: GateFactory): void {
  createGate = create
}

/**
 * Holds a leaf to its capacity. A request with no room within `queueTimeout` fails with kind `at-capacity`, which
 * is no fault of the backend: it neither suspends the leaf nor counts as its failure.
 */
class CapacityGuard extends Delegating {
  readonly #config: CapacityConfig
  readonly #gate: CapacityGate
  #inFlight = 0
  #refused = 0

  constructor(inner: Endpoint, config: CapacityConfig) {
    super(inner)
    this.#config = config
    // The leaf and its settings name the gate: a reload that keeps both keeps counting in the same gate.
    const digest = createHash('sha256').update(JSON.stringify(config)).digest('base64url').slice(0, 16)
    this.#gate = createGate(`${inner.id}#${digest}`, config)
  }

  async send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    if (!(await this.#gate.admit(signal))) {
      this.#refused++
      const { maxTps, maxConcurrent } = this.#config
      const limits = [maxTps !== undefined && `${maxTps} requests a second`, maxConcurrent !== undefined && `${maxConcurrent} at a time`].filter(Boolean).join(', ')
      throw new EndpointError('at-capacity', this.id, `${this.id}: at capacity`, { reason: `the backend takes at most ${limits}` })
    }
    this.#inFlight++
    const release = () => {
      this.#inFlight--
      this.#gate.release()
    }
    let response: BackendResponse
    try {
      response = await this.inner.send(exchange, signal)
    } catch (error) {
      release()
      throw error
    }
    // In flight until the body has been passed on (or dropped), not only until the headers came.
    if (response.body) response.body.once('close', release)
    else release()
    return response
  }

  override describe(): EndpointStatus {
    return { ...super.describe(), capacity: { ...this.#config, inFlight: this.#inFlight, refused: this.#refused } }
  }

  override async close(): Promise<void> {
    this.#gate.close()
    await super.close()
  }
}

/**
 * The count itself: requests in each second of the clock and requests in flight. A request over either waits,
 * first come first served, until there is room or its `queueTimeout` passes.
 */
export class LocalCapacityGate implements CapacityGate {
  readonly #config: CapacityConfig
  #inFlight = 0
  #second = 0
  #sentThisSecond = 0
  readonly #waiting: Array<() => void> = []

  constructor(config: CapacityConfig) {
    this.#config = config
  }

  async admit(signal: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + this.#config.queueTimeout
    // Behind others already waiting, a newcomer waits its turn instead of taking the room they wait for.
    if (this.#waiting.length === 0 && this.#take(Date.now())) return true
    for (;;) {
      const now = Date.now()
      const left = deadline - now
      if (left <= 0 || signal.aborted) return false
      // Room comes back with a finished request, or with the next second for a rate that is used up.
      const nextSecond = this.#atRate(now) ? 1000 - (now % 1000) : left
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer)
          const at = this.#waiting.indexOf(wake)
          if (at >= 0) this.#waiting.splice(at, 1)
          resolve()
        }
        const timer = setTimeout(wake, Math.min(left, nextSecond))
        this.#waiting.push(wake)
      })
      if (this.#take(Date.now())) return true
    }
  }

  release(): void {
    this.#inFlight--
    this.#waiting[0]?.()
  }

  close(): void {}

  #atRate(now: number): boolean {
    const second = now - (now % 1000)
    return this.#config.maxTps !== undefined && second === this.#second && this.#sentThisSecond >= this.#config.maxTps
  }

  #take(now: number): boolean {
    const { maxTps, maxConcurrent } = this.#config
    if (maxConcurrent !== undefined && this.#inFlight >= maxConcurrent) return false
    const second = now - (now % 1000)
    if (second !== this.#second) {
      this.#second = second
      this.#sentThisSecond = 0
    }
    if (maxTps !== undefined && this.#sentThisSecond >= maxTps) return false
    this.#sentThisSecond++
    this.#inFlight++
    return true
  }
}
