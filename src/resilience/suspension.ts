import type { FailureKind } from '../core/endpoint.ts'
import type { suspensionPolicy } from './schema.ts'
import { matchesErrorCodes } from '../core/error-codes.ts'

/**
 * `active`: takes traffic. `timeout`: failed with a markForSuspension code, still tried (after retryDelay)
 * until its retries run out. `suspended`: takes no traffic until the suspension ends; then one trial request
 * decides whether it is active again or suspended for longer.
 */
export type SuspensionState = 'active' | 'timeout' | 'suspended'

export interface Transition {
  from: SuspensionState
  to: SuspensionState
  reason: string
  /** For `suspended`: when the suspension ends (epoch ms). */
  until?: number
}

type Policy = ReturnType<typeof suspensionPolicy>

/**
 * The WSO2 / Apache Synapse endpoint state machine of one leaf, with time passed in so it is tested alone.
 * Methods that change the state return the transition, or undefined when the state stayed, so the caller
 * logs each change once.
 */
export class Suspension {
  readonly #policy: Policy
  #state: SuspensionState = 'active'
  #remainingRetries = 0
  /** `timeout`: when the leaf may be tried again; `suspended`: when the suspension ends. */
  #retryAt = 0
  #lastDuration = 0
  #trialInFlight = false
  #suspensions = 0

  constructor(policy: Policy) {
    this.#policy = policy
  }

  get state(): SuspensionState {
    return this.#state
  }

  /** When the leaf may take traffic again, for `timeout` and `suspended`; undefined when active. */
  get retryAt(): number | undefined {
    return this.#state === 'active' ? undefined : this.#retryAt
  }

  get suspensions(): number {
    return this.#suspensions
  }

  /** The length of the current (or last) suspension in ms. */
  get lastDuration(): number {
    return this.#lastDuration
  }

  ready(now: number): boolean {
    if (this.#state === 'active') return true
    if (this.#state === 'timeout') return now >= this.#retryAt
    // One trial at a time: the rest wait for its verdict rather than pile onto a backend that may still be down.
    return now >= this.#retryAt && !this.#trialInFlight
  }

  /** A request is about to be sent; after a suspension it is the trial. */
  begin(): void {
    if (this.#state === 'suspended') this.#trialInFlight = true
  }

  /** The request ended without a verdict on the backend (the client went away). */
  release(): void {
    this.#trialInFlight = false
  }

  succeeded(): Transition | undefined {
    this.#trialInFlight = false
    return this.reset('a request succeeded')
  }

  failed(kind: FailureKind, now: number): Transition | undefined {
    const wasTrial = this.#trialInFlight
    this.#trialInFlight = false
    const { markForSuspension, suspendOnFailure } = this.#policy
    if (this.#state === 'suspended') {
      return wasTrial ? this.#suspend(now, `the trial request failed (${kind})`) : undefined
    }
    if (matchesErrorCodes(markForSuspension.errorCodes, kind)) {
      if (this.#state === 'active') this.#remainingRetries = markForSuspension.retriesBeforeSuspension
      if (this.#remainingRetries <= 0) return this.#suspend(now, `${kind}, no retries left`)
      this.#remainingRetries--
      this.#retryAt = now + markForSuspension.retryDelay
      if (this.#state === 'timeout') return undefined
      this.#state = 'timeout'
      return { from: 'active', to: 'timeout', reason: `${kind}; ${this.#remainingRetries + 1} more failure(s) before suspension` }
    }
    if (suspendOnFailure.errorCodes.length === 0 || matchesErrorCodes(suspendOnFailure.errorCodes, kind)) {
      return this.#suspend(now, kind)
    }
    return undefined
  }

  /** Back to active, forgetting past suspensions (after a success, or a passing health check). */
  reset(reason: string): Transition | undefined {
    this.#remainingRetries = 0
    this.#lastDuration = 0
    if (this.#state === 'active') return undefined
    const from = this.#state
    this.#state = 'active'
    return { from, to: 'active', reason }
  }

  #suspend(now: number, reason: string): Transition | undefined {
    const { initialDuration, progressionFactor, maximumDuration } = this.#policy.suspendOnFailure
    const next = this.#lastDuration === 0 ? initialDuration : this.#lastDuration * progressionFactor
    const duration = Math.round(Math.min(next, maximumDuration ?? Number.MAX_SAFE_INTEGER))
    // Both durations 0 turns suspension off, as in WSO2: the leaf stays in its state.
    if (duration <= 0) return undefined
    const from = this.#state
    this.#state = 'suspended'
    this.#lastDuration = duration
    this.#retryAt = now + duration
    this.#suspensions++
    return { from, to: 'suspended', reason, until: this.#retryAt }
  }
}
