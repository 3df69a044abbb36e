import type { FailureKind } from '../core/endpoint.ts'
import { HealthChecker } from './health-check.ts'
import type { HealthCheckConfig, suspensionPolicy } from './schema.ts'
import { publishStateChange } from './state-events.ts'
import { Suspension, type SuspensionState, type Transition } from './suspension.ts'

export type LeafStateName = SuspensionState | 'unhealthy'

/** Everything needed to run a leaf's state, as plain data: a cluster primary builds it from a worker's message. */
export interface LeafStateSpec {
  /** The leaf's id and a digest of its config: a changed leaf starts with a fresh state. */
  key: string
  id: string
  policy: ReturnType<typeof suspensionPolicy>
  thresholds: { healthy: number; unhealthy: number }
  healthCheck?: { url: string; config: HealthCheckConfig; connect: object }
}

/** What the console and /metrics show of a leaf's state: the same in every worker of a cluster. */
export interface LeafStateView {
  state: LeafStateName
  /** `timeout` and `suspended`: when the leaf may take traffic again (epoch ms). */
  retryAt?: number
  suspensions: number
  /** The length of the current suspension (ms), while suspended. */
  suspendedForMs?: number
  healthCheck?: { url: string; healthy: boolean; last: string | undefined }
}

/**
 * The suspension and health of one leaf. A process serving alone keeps it in a LocalLeafState; a cluster worker
 * keeps a copy that its primary updates, so every worker sees one state per leaf.
 */
export interface LeafState {
  readonly state: LeafStateName
  ready(now: number): boolean
  /** A request is about to be sent. */
  begin(): void
  /** The request ended without a verdict on the backend (the client went away, or not a backend fault). */
  release(): void
  succeeded(): void
  /** A backend fault. A promise when the verdict is taken elsewhere: the caller answers once it is known. */
  failed(kind: FailureKind, now: number): void | Promise<void>
  view(): LeafStateView
  /** Back to active now, forgetting past suspensions: an operator's reset. */
  reset(reason: string): void
  close(): void
}

/** `owner` is what state-change events name as their endpoint, so each gateway instance logs its own. */
type LeafStateFactory = (spec: LeafStateSpec, owner: object) => LeafState

let factory: LeafStateFactory = (spec, owner) => new LocalLeafState(spec, owner)

/** Where this process keeps leaf states: a cluster worker hands them to its primary. Set once, before any leaf. */
export function useLeafStates(create: LeafStateFactory): void {
  factory = create
}

export function createLeafState(spec: LeafStateSpec, owner: object): LeafState {
  return factory(spec, owner)
}

/**
 * The leaf state itself: the suspension state machine and the optional health check. Publishes each change once;
 * `onChange` lets a cluster primary pass the new view on to its workers.
 */
export class LocalLeafState implements LeafState {
  readonly id: string
  readonly #owner: object
  readonly #suspension: Suspension
  readonly #health: HealthChecker | undefined
  readonly #thresholds: { healthy: number; unhealthy: number }
  #healthy = true
  #passes = 0
  #fails = 0
  #lastCheck: string | undefined
  onChange: (() => void) | undefined

  constructor(spec: LeafStateSpec, owner?: object) {
    this.id = spec.id
    this.#owner = owner ?? this
    this.#suspension = new Suspension(spec.policy)
    this.#thresholds = spec.thresholds
    if (spec.healthCheck) {
      const { url, config, connect } = spec.healthCheck
      this.#health = new HealthChecker(url, config, (passed, detail) => this.#checked(passed, detail), connect)
      this.#health.start()
    }
  }

  get state(): LeafStateName {
    return this.#healthy ? this.#suspension.state : 'unhealthy'
  }

  /** When the current suspension ends, or the timeout state's retry is due. */
  get retryAt(): number | undefined {
    return this.#suspension.retryAt
  }

  ready(now: number): boolean {
    return this.#healthy && this.#suspension.ready(now)
  }

  begin(): void {
    this.#suspension.begin()
  }

  release(): void {
    this.#suspension.release()
  }

  succeeded(): void {
    this.#changed(this.#suspension.succeeded())
  }

  failed(kind: FailureKind, now: number): void {
    this.#changed(this.#suspension.failed(kind, now))
  }

  view(): LeafStateView {
    const retryAt = this.#suspension.retryAt
    return {
      state: this.state,
      suspensions: this.#suspension.suspensions,
      ...(retryAt !== undefined ? { retryAt } : {}),
      ...(this.#suspension.state === 'suspended' ? { suspendedForMs: this.#suspension.lastDuration } : {}),
      ...(this.#health ? { healthCheck: { url: this.#health.url, healthy: this.#healthy, last: this.#lastCheck } } : {}),
    }
  }

  reset(reason: string): void {
    this.#changed(this.#suspension.reset(reason))
  }

  close(): void {
    this.#health?.stop()
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
    } else {
      this.#fails++
      this.#passes = 0
      if (this.#healthy && this.#fails >= this.#thresholds.unhealthy) {
        const from = this.state
        this.#healthy = false
        this.#publish(from, 'unhealthy', `health check failed ${this.#fails} time(s): ${detail}`)
      }
    }
    this.onChange?.()
  }

  #changed(transition: Transition | undefined): void {
    if (transition && this.#healthy) this.#publish(transition.from, transition.to, transition.reason, transition.until)
    // Also without a transition: a further failure in `timeout` moves its retry time.
    this.onChange?.()
  }

  #publish(from: string, to: string, reason: string, until?: number): void {
    publishStateChange({ endpoint: this.#owner, id: this.id, from, to, reason, ...(until !== undefined ? { until: new Date(until).toISOString() } : {}) })
  }
}
