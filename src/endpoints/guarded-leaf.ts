import { createHash } from 'node:crypto'
import type { BackendResponse, Endpoint, EndpointStatus, Exchange, FailureKind } from '../core/endpoint.ts'
import { EndpointError } from '../core/endpoint.ts'
import { isBackendFault } from '../core/error-codes.ts'
import { classifyFailure } from '../core/failure.ts'
import { createLeafState, type LeafState, type LeafStateSpec } from '../resilience/leaf-state.ts'
import { healthCheckUrl } from '../resilience/health-check.ts'
import { suspensionPolicy } from '../resilience/schema.ts'
import { tlsConnectOptions } from '../security/tls.ts'
import { Delegating, type Interceptor } from './interceptor.ts'
import type { LeafConfig } from './schema.ts'

/** Every leaf's suspension guard; `inGroup` tells whether a group can route around the leaf (its default suspension). */
export function suspensionGuard(config: LeafConfig & { url?: unknown }, inGroup: boolean): Interceptor {
  return (inner) => new GuardedLeaf(inner, config, inGroup)
}

/** A leaf's state settings as plain data, which a cluster primary can rebuild from a worker's message. */
function leafStateSpec(id: string, config: LeafConfig & { url?: unknown }, inGroup: boolean): LeafStateSpec {
  const digest = createHash('sha256').update(JSON.stringify([config, inGroup])).digest('base64url').slice(0, 16)
  const check = config.healthCheck
  const spec: LeafStateSpec = {
    key: `${id}#${digest}`,
    id,
    policy: suspensionPolicy(config, inGroup),
    thresholds: { healthy: check?.healthyThreshold ?? 1, unhealthy: check?.unhealthyThreshold ?? 1 },
  }
  if (check) {
    // The leaf's TLS settings, but its server name only when the check probes the leaf's own origin.
    const { servername, ...tls } = tlsConnectOptions(config.security?.tls, id) as { servername?: string }
    const connect = check.url || servername === undefined ? tls : { ...tls, servername }
    spec.healthCheck = { url: healthCheckUrl(check, id, config.url), config: check, connect }
  }
  return spec
}

/**
 * Wraps every leaf endpoint, whatever its type: counts attempts and failures by kind, turns configured
 * statuses into failures, feeds the leaf's state (suspension and health check) and refuses traffic while
 * the leaf may not take it.
 */
export class GuardedLeaf extends Delegating {
  readonly #state: LeafState
  readonly #failureStatuses: ReadonlySet<number>
  #attempts = 0
  readonly #failures: Partial<Record<FailureKind, number>> = {}

  constructor(inner: Endpoint, config: LeafConfig & { url?: unknown }, inGroup: boolean) {
    super(inner)
    this.#failureStatuses = new Set(config.failureStatuses)
    this.#state = createLeafState(leafStateSpec(inner.id, config, inGroup), this)
  }

  get state(): string {
    return this.#state.state
  }

  override ready(now: number): boolean {
    return this.#state.ready(now) && this.inner.ready(now)
  }

  send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    if (!this.ready(Date.now())) {
      return Promise.reject(new EndpointError('unavailable', this.id, `${this.id} is ${this.state}${this.#retryText()}`))
    }
    this.#attempts++
    this.#state.begin()
    // A promise chain with handlers made once, not an async function: one step fewer on every request.
    let sent: Promise<BackendResponse>
    try {
      sent = this.inner.send(exchange, signal)
    } catch (error) {
      return this.#sendFailed(error)
    }
    return sent.then(this.#answered, this.#sendFailed)
  }

  /** The backend answered: a status configured as a failure is one, any other a success. */
  readonly #answered = (response: BackendResponse): BackendResponse | Promise<never> => {
    if (this.#failureStatuses.has(response.status)) return this.#failedStatus(response)
    this.#state.succeeded()
    return response
  }

  async #failedStatus(response: BackendResponse): Promise<never> {
    // The response is dropped: drain it so the pooled connection can be reused.
    response.body?.resume()
    await this.#failed('status')
    throw new EndpointError('status', this.id, `${this.id}: the backend answered ${response.status}, configured as a failure`, { status: response.status })
  }

  readonly #sendFailed = async (error: unknown): Promise<never> => {
    const failure = classifyFailure(error, this.id)
    await this.#failed(failure.kind)
    throw failure
  }

  override resetState(reason: string): boolean {
    this.#state.reset(reason)
    return true
  }

  override describe(): EndpointStatus {
    const { state, retryAt, suspensions, suspendedForMs, healthCheck } = this.#state.view()
    const inner = super.describe()
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

  override async close(): Promise<void> {
    this.#state.close()
    await super.close()
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
