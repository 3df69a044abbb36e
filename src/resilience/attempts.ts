import { EndpointError, type BackendResponse, type Endpoint, type Exchange, type FailureKind } from '../core/endpoint.ts'
import { classifyFailure } from '../core/failure.ts'
import { neverReachedBackend } from '../core/error-codes.ts'
import type { ExchangeTrace } from '../core/trace.ts'
import { ReplayableBody } from './replay.ts'

/** Methods whose repetition has the effect of one request (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE'])

export interface AttemptLimits {
  /** Most attempts; each child is tried at most once per request either way. */
  maxAttempts: number
  /** Bound on the whole request until response headers, in ms; 0 for none. */
  totalTimeout: number
  replayBufferBytes: number
  retryNonIdempotent: boolean
}

/** How a group walks its children for one request. */
export interface AttemptPlan {
  /** The next child to try (an index into the children), or undefined when none is left to try. */
  next(tried: ReadonlySet<number>, now: number): number | undefined
  /** An attempt on child `index` is about to be sent. */
  started?(index: number): void
  /** An attempt on child `index` ended: with its response (whose body may still stream), or failed. */
  settled?(index: number, response: BackendResponse | undefined): void
}

/** A group gave up; it carries every failure on the way, for the client's message and the log. */
export class GroupFailure extends EndpointError {
  readonly failures: readonly EndpointError[]

  constructor(kind: FailureKind, groupId: string, summary: string, failures: readonly EndpointError[]) {
    // A backend's answer counted as a failure (a SOAP Fault with faultIsFailure) still beats a gateway error: the
    // latest one goes to the client when no endpoint of the group answers.
    const answer = failures.findLast((failure) => failure.response !== undefined)?.response
    super(kind, groupId, `${groupId}: ${summary}${failures.length > 0 ? `; tried ${describeFailures(failures)}` : ''}`, { response: answer })
    this.name = 'GroupFailure'
    this.failures = failures
  }
}

/** `a (connect-refused), b (status 503)`: every leaf failure in order, nested groups flattened. */
export function describeFailures(failures: readonly EndpointError[]): string {
  return leafFailures(failures)
    .map((failure) => `${failure.endpointId} (${failure.kind === 'status' ? `status ${failure.status}` : failure.kind})`)
    .join(', ')
}

function leafFailures(failures: readonly EndpointError[]): EndpointError[] {
  return failures.flatMap((failure) => (failure instanceof GroupFailure ? leafFailures(failure.failures) : [failure]))
}

/**
 * Sends the exchange to the children the plan picks, one after another, until one answers. Stops early when
 * sending the request again could do harm (a non-idempotent request that may have reached a backend, or a
 * streamed body already read), when the attempts or the total time run out, or when the client went away.
 */
export function sendInTurn(
  groupId: string,
  children: readonly Endpoint[],
  exchange: Exchange,
  signal: AbortSignal,
  limits: AttemptLimits,
  plan: AttemptPlan,
): Promise<{ response: BackendResponse; index: number }> {
  const trace = exchange.trace
  if (trace === undefined) return attemptInTurn(groupId, children, exchange, signal, limits, plan)
  return tracedInTurn(groupId, children, exchange, signal, limits, plan, trace)
}

/** The group's span: its attempts are its children, and it ends with the one that answered or how it gave up. */
async function tracedInTurn(
  groupId: string,
  children: readonly Endpoint[],
  exchange: Exchange,
  signal: AbortSignal,
  limits: AttemptLimits,
  plan: AttemptPlan,
  trace: ExchangeTrace,
): Promise<{ response: BackendResponse; index: number }> {
  const span = trace.begin(`group ${groupId}`, 'internal', { 'portico.endpoint': groupId, 'portico.group.max_attempts': limits.maxAttempts })
  let attempts = 0
  const counted: AttemptPlan = {
    next: (tried, now) => plan.next(tried, now),
    started: (index) => {
      attempts++
      plan.started?.(index)
    },
    settled: (index, response) => plan.settled?.(index, response),
  }
  try {
    const result = await attemptInTurn(groupId, children, exchange, signal, limits, counted)
    span.set('portico.group.answered_by', children[result.index]!.id)
    return result
  } catch (error) {
    const failure = error as EndpointError
    span.fail(failure.kind ?? 'error', failure.message)
    throw error
  } finally {
    span.set('portico.group.attempts', attempts)
    span.end()
  }
}

async function attemptInTurn(
  groupId: string,
  children: readonly Endpoint[],
  exchange: Exchange,
  signal: AbortSignal,
  limits: AttemptLimits,
  plan: AttemptPlan,
): Promise<{ response: BackendResponse; index: number }> {
  const body = await ReplayableBody.prepare(exchange, limits.replayBufferBytes, groupId)
  const deadline = limits.totalTimeout > 0 ? new AbortController() : undefined
  const timer = deadline ? setTimeout(() => deadline.abort(), limits.totalTimeout) : undefined
  const attemptSignal = deadline ? AbortSignal.any([signal, deadline.signal]) : signal
  const failures: EndpointError[] = []
  const tried = new Set<number>()
  try {
    while (tried.size < limits.maxAttempts) {
      const index = plan.next(tried, Date.now())
      if (index === undefined) break
      const last = failures.at(-1)
      if (last) {
        const refusal = replayRefusal(exchange.method, last, body, limits.retryNonIdempotent)
        if (refusal) throw new GroupFailure(last.kind, groupId, `not sent again: ${refusal}`, failures)
      }
      if (!body.attach(exchange)) {
        throw new GroupFailure(last?.kind ?? 'unavailable', groupId, 'not sent again: the body was larger than replayBufferBytes and was already streamed', failures)
      }
      tried.add(index)
      plan.started?.(index)
      const child = children[index]!
      let response: BackendResponse
      try {
        response = await child.send(exchange, attemptSignal)
      } catch (error) {
        plan.settled?.(index, undefined)
        const failure = classifyFailure(error, child.id)
        if (signal.aborted || failure.kind === 'client-body') throw failure
        if (deadline?.signal.aborted) {
          failures.push(new EndpointError('read-timeout', child.id, `${child.id}: cut off by the group's totalTimeout`))
          throw new GroupFailure('read-timeout', groupId, `no response within totalTimeout (${limits.totalTimeout} ms)`, failures)
        }
        failures.push(failure)
        continue
      }
      plan.settled?.(index, response)
      return { response, index }
    }
  } finally {
    clearTimeout(timer)
  }
  if (failures.length === 0) {
    const states = children.map((child) => `${child.id} ${child.describe().state}`).join(', ')
    throw new GroupFailure('unavailable', groupId, `no endpoint is ready (${states})`, [])
  }
  // A group allowed one attempt (a load balancer without failover) reports that failure as a lone leaf would.
  if (limits.maxAttempts === 1 && failures.length === 1) throw failures[0]!
  throw new GroupFailure('unavailable', groupId, failures.length === 1 ? 'the one attempt failed' : `all ${failures.length} attempts failed`, failures)
}

/** Why the request must not be sent again after `failure`, or undefined when it may. */
function replayRefusal(method: string, failure: EndpointError, body: ReplayableBody, retryNonIdempotent: boolean): string | undefined {
  if (body.consumed) return 'the body was larger than replayBufferBytes and was already streamed'
  if (leafFailures([failure]).every(neverReachedBackend)) return undefined
  if (IDEMPOTENT.has(method) || retryNonIdempotent) return undefined
  return `${method} is not idempotent and ${failure.endpointId} may have processed it (${failure.kind}); retryNonIdempotent allows it`
}
