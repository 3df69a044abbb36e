import type { LeafConfig } from '../config/endpoint-schema.ts'
import type { BackendResponse, Endpoint, EndpointStatus, Exchange, FailureKind } from '../endpoints/endpoint.ts'
import { EndpointError } from '../endpoints/endpoint.ts'
import { classifyFailure } from '../endpoints/failure.ts'
import { isBackendFault } from './error-codes.ts'
import { createLeafState, leafStateSpec, type LeafState } from './leaf-state.ts'

/**
 * Wraps every leaf endpoint, whatever its type: counts attempts and failures by kind, turns configured
 * statuses into failures, feeds the leaf's state (suspension and health check) and refuses traffic while
 * the leaf may not take it.
 */
export class GuardedLeaf implements Endpoint {
  readonly id: string
  readonly isPrototype: boolean
  readonly #inner: Endpoint
  readonly #state: LeafState
  readonly #failureStatuses: ReadonlySet<number>
  #attempts = 0
  readonly #failures: Partial<Record<FailureKind, number>> = {}

  constructor(inner: Endpoint, config: LeafConfig & { url?: unknown }, inGroup: boolean) {
    this.id = inner.id
    this.isPrototype = inner.isPrototype
    this.#inner = inner
    this.#failureStatuses = new Set(config.failureStatuses)
    this.#state = createLeafState(leafStateSpec(inner.id, config, inGroup), this)
  }

  get state(): string {
    return this.#state.state
  }

  ready(now: number): boolean {
    return this.#state.ready(now) && this.#inner.ready(now)
  }

  async send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    if (!this.ready(Date.now())) {
      throw new EndpointError('unavailable', this.id, `${this.id} is ${this.state}${this.#retryText()}`)
    }
    this.#attempts++
    this.#state.begin()
    let response: BackendResponse
    try {
      response = await this.#inner.send(exchange, signal)
    } catch (error) {
      const failure = classifyFailure(error, this.id)
      await this.#failed(failure.kind)
      throw failure
    }
    if (this.#failureStatuses.has(response.status)) {
      // The response is dropped: drain it so the pooled connection can be reused.
      response.body?.resume()
      await this.#failed('status')
      throw new EndpointError('status', this.id, `${this.id}: the backend answered ${response.status}, configured as a failure`, { status: response.status })
    }
    this.#state.succeeded()
    return response
  }

  describe(): EndpointStatus {
    const { state, retryAt, suspensions, suspendedForMs, healthCheck } = this.#state.view()
    const inner = this.#inner.describe()
    return {
      ...inner,
      // An active leaf shows its type's own state (e.g. a WSDL that failed to load); otherwise why it takes no traffic.
      state: state === 'active' ? inner.state : state,
      attempts: this.#attempts,
      failures: { ...this.#failures },
      suspensions,
      ...(retryAt !== undefined ? { nextRetry: new Date(retryAt).toISOString() } : {}),
      ...(suspendedForMs !== undefined ? { suspendedForMs } : {}),
      ...(healthCheck ? { healthCheck } : {}),
    }
  }

  async close(): Promise<void> {
    this.#state.close()
    await this.#inner.close()
  }

  /** Counts a failure; a backend fault goes to the leaf's state, and may wait for its verdict (see LeafState). */
  #failed(kind: FailureKind): void | Promise<void> {
    if (!isBackendFault(kind)) {
      this.#state.release()
      return
    }
    this.#failures[kind] = (this.#failures[kind] ?? 0) + 1
    return this.#state.failed(kind, Date.now())
  }

  #retryText(): string {
    const { state, retryAt } = this.#state.view()
    return state !== 'unhealthy' && retryAt !== undefined ? ` until ${new Date(retryAt).toISOString()}` : ''
  }
}
