import type { LeafConfig } from './schema.ts'
import type { BackendResponse, Endpoint, EndpointStatus, Exchange, FailureKind } from '../core/endpoint.ts'
import { Delegating, type Interceptor } from './interceptor.ts'
import { EndpointError } from '../core/endpoint.ts'
import { classifyFailure } from '../core/failure.ts'
import { suspensionPolicy } from '../resilience/schema.ts'
import { tlsConnectOptions } from '../security/tls.ts'
import { isBackendFault } from '../core/error-codes.ts'
import { HealthChecker, healthCheckUrl } from '../resilience/health-check.ts'
import { publishStateChange } from '../resilience/state-events.ts'
import { Suspension, type Transition } from '../resilience/suspension.ts'

/** Every leaf's suspension guard; `inGroup` tells whether a group can route around the leaf (its default suspension). */
export function suspensionGuard(config: LeafConfig & { url?: unknown }, inGroup: boolean): Interceptor {
  return (inner) => new GuardedLeaf(inner, config, inGroup)
}

/**
 * Wraps every leaf endpoint, whatever its type: counts attempts and failures by kind, turns configured
 * statuses into failures, runs the suspension state machine and the optional health check, and refuses
 * traffic while the leaf may not take it.
 */
export class GuardedLeaf extends Delegating {
  readonly #suspension: Suspension
  readonly #failureStatuses: ReadonlySet<number>
  readonly #health: HealthChecker | undefined
  readonly #thresholds: { healthy: number; unhealthy: number }
  #healthy = true
  #passes = 0
  #fails = 0
  #lastCheck: string | undefined
  #attempts = 0
  readonly #failures: Partial<Record<FailureKind, number>> = {}

  constructor(inner: Endpoint, config: LeafConfig & { url?: unknown }, inGroup: boolean) {
    super(inner)
    this.#suspension = new Suspension(suspensionPolicy(config, inGroup))
    this.#failureStatuses = new Set(config.failureStatuses)
    const check = config.healthCheck
    this.#thresholds = { healthy: check?.healthyThreshold ?? 1, unhealthy: check?.unhealthyThreshold ?? 1 }
    if (check) {
      // The leaf's TLS settings, but its server name only when the check probes the leaf's own origin.
      const { servername, ...tls } = tlsConnectOptions(config.security?.tls, inner.id) as { servername?: string }
      const connect = check.url || servername === undefined ? tls : { ...tls, servername }
      this.#health = new HealthChecker(healthCheckUrl(check, inner.id, config.url), check, (passed, detail) => this.#checked(passed, detail), connect)
      this.#health.start()
    }
  }

  get state(): string {
    return this.#healthy ? this.#suspension.state : 'unhealthy'
  }

  override ready(now: number): boolean {
    return this.#healthy && this.#suspension.ready(now) && this.inner.ready(now)
  }

  async send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    if (!this.ready(Date.now())) {
      throw new EndpointError('unavailable', this.id, `${this.id} is ${this.state}${this.#retryText()}`)
    }
    this.#attempts++
    this.#suspension.begin()
    let response: BackendResponse
    try {
      response = await this.inner.send(exchange, signal)
    } catch (error) {
      const failure = classifyFailure(error, this.id)
      this.#failed(failure.kind)
      throw failure
    }
    if (this.#failureStatuses.has(response.status)) {
      // The response is dropped: drain it so the pooled connection can be reused.
      response.body?.resume()
      this.#failed('status')
      throw new EndpointError('status', this.id, `${this.id}: the backend answered ${response.status}, configured as a failure`, { status: response.status })
    }
    this.#changed(this.#suspension.succeeded())
    return response
  }

  override describe(): EndpointStatus {
    const retryAt = this.#suspension.retryAt
    const inner = super.describe()
    return {
      ...inner,
      // An active leaf shows its type's own state (e.g. a WSDL that failed to load); otherwise why it takes no traffic.
      state: this.state === 'active' ? inner.state : this.state,
      attempts: this.#attempts,
      failures: { ...this.#failures },
      suspensions: this.#suspension.suspensions,
      ...(retryAt !== undefined ? { nextRetry: new Date(retryAt).toISOString() } : {}),
      ...(this.#suspension.state === 'suspended' ? { suspendedForMs: this.#suspension.lastDuration } : {}),
      ...(this.#health ? { healthCheck: { url: this.#health.url, healthy: this.#healthy, last: this.#lastCheck } } : {}),
    }
  }

  override close(): Promise<void> {
    this.#health?.stop()
    return super.close()
  }

  #failed(kind: FailureKind): void {
    if (!isBackendFault(kind)) {
      this.#suspension.release()
      return
    }
    this.#failures[kind] = (this.#failures[kind] ?? 0) + 1
    this.#changed(this.#suspension.failed(kind, Date.now()))
  }

  #checked(passed: boolean, detail: string): void {
    this.#lastCheck = detail
    if (passed) {
      this.#passes++
      this.#fails = 0
      // A passing check is proof enough: a leaf suspended by failed requests returns without a client trial.
      const back = this.#suspension.reset('a health check passed')
      if (!this.#healthy && this.#passes >= this.#thresholds.healthy) {
        this.#healthy = true
        // One change, to the state after the reset: never a passing "suspended" it did not spend time in.
        this.#publish('unhealthy', this.#suspension.state, `health check passed ${this.#passes} time(s)`)
      } else if (back && this.#healthy) this.#publish(back.from, back.to, back.reason)
      return
    }
    this.#fails++
    this.#passes = 0
    if (this.#healthy && this.#fails >= this.#thresholds.unhealthy) {
      const from = this.state
      this.#healthy = false
      this.#publish(from, 'unhealthy', `health check failed ${this.#fails} time(s): ${detail}`)
    }
  }

  #changed(transition: Transition | undefined): void {
    if (!transition || !this.#healthy) return
    this.#publish(transition.from, transition.to, transition.reason, transition.until)
  }

  #publish(from: string, to: string, reason: string, until?: number): void {
    publishStateChange({ endpoint: this, id: this.id, from, to, reason, ...(until !== undefined ? { until: new Date(until).toISOString() } : {}) })
  }

  #retryText(): string {
    const retryAt = this.#suspension.retryAt
    return this.#healthy && retryAt !== undefined ? ` until ${new Date(retryAt).toISOString()}` : ''
  }
}
