import { createHash } from 'node:crypto'
import { BlockList, isIPv6 } from 'node:net'
import type { BackendResponse, Exchange } from '../core/endpoint.ts'
import { ExchangeSlot } from '../core/exchange-slot.ts'
import type { ApiFilter, FilterAnswer, FilterContext, FilterStop } from '../core/filter.ts'
import type { Take, TakeAnswer } from './counters.ts'
import { decisionCounters } from './metrics.ts'
import type { ConditionConfig, KeyConfig, Period, PolicyConfig, ThrottlingConfig } from './schema.ts'
import { WSO2_TIERS } from './schema.ts'
import { countStore, type CountStore } from './store.ts'
import { windowAt } from './window.ts'

/** Where a policy applies: once per API, or per resource (its own counts). */
export interface PolicyPlacement {
  readonly names: readonly string[]
  /** What the counts are kept under: the API's key, or the API's key and the resource's template. */
  readonly scope: string
}

interface LimitSpec {
  readonly amount: number
  readonly bytes: boolean
  readonly per: Period
  /** Its `RateLimit-Policy` header, made once (a month's names its window per request). */
  readonly policyHeader: string | undefined
}

interface Choice {
  readonly test: ((exchange: Exchange) => boolean) | undefined
  readonly limits: readonly LimitSpec[]
}

interface AppliedPolicy {
  readonly name: string
  readonly scope: string
  readonly key: KeyConfig
  /** The conditions in order, then the policy's own limits (no test). */
  readonly choices: readonly Choice[]
  readonly decisions: ReturnType<typeof decisionCounters>
}

/** One counter of one request: what its headers and refusal say. */
interface Counted {
  readonly policy: AppliedPolicy
  readonly limit: LimitSpec
  readonly end: number
}

/** What the request took, for the response's headers and its bytes. */
interface Taken {
  readonly entries: Take[]
  readonly counted: Counted[]
  readonly counts: number[]
}

/** What a request took, from the request hook to the response hook. */
const taken = new ExchangeSlot<Taken>('throttling')

const SECONDS: Record<Exclude<Period, 'month'>, number> = { second: 1, minute: 60, hour: 3600, day: 86_400 }

/**
 * The throttling API filter: every policy of the API and of the resource counts the request in its current
 * window, all at once (one atomic take, in Redis or on this node). The first policy with no room refuses it with
 * 429, `Retry-After` and the IETF `RateLimit-Policy`/`RateLimit` headers; an admitted response carries the headers
 * of its tightest limit. Byte limits count the request body when it arrives and the response body once known.
 */
export function throttlingFilter(placements: readonly PolicyPlacement[], throttling: ThrottlingConfig): ApiFilter | undefined {
  const policies: AppliedPolicy[] = []
  for (const placement of placements) {
    for (const name of placement.names) {
      const policy = throttling.policies.find((defined) => defined.name === name) ?? WSO2_TIERS[name]
      // Unlimited (a WSO2 tier) counts nothing.
      if (policy) policies.push(applied(policy, placement.scope))
    }
  }
  if (policies.length === 0) return undefined
  return new Throttle(policies, countStore(throttling))
}

class Throttle implements ApiFilter {
  readonly #policies: readonly AppliedPolicy[]
  readonly #store: CountStore

  constructor(policies: readonly AppliedPolicy[], store: CountStore) {
    this.#policies = policies
    this.#store = store
  }

  request(exchange: Exchange, context: FilterContext): FilterAnswer {
    const now = Date.now()
    const entries: Take[] = []
    const counted: Counted[] = []
    const requestBytes = bodyBytes(exchange)
    for (const policy of this.#policies) {
      const index = choiceFor(policy, exchange)
      const base = `${policy.scope}|${policy.name}|${index}|${keyOf(policy.key, exchange)}`
      for (const limit of policy.choices[index]!.limits) {
        const { start, end } = windowAt(limit.per, now)
        // The window's start names its counter; it lives a little past its end so late takes still find it.
        entries.push({ key: `${base}|${limit.per}|${start}`, limit: limit.amount, ttlMs: end - now + 1000, cost: limit.bytes ? requestBytes : 1 })
        counted.push({ policy, limit, end })
      }
    }
    // This process's counters answer at once, and so does the filter; Redis and a workers' primary answer later.
    const answer = this.#store.take(entries, context.logger)
    if (answer instanceof Promise) return answer.then((later) => this.#decide(exchange, later, entries, counted, now))
    return this.#decide(exchange, answer, entries, counted, now)
  }

  #decide(exchange: Exchange, answer: TakeAnswer | undefined, entries: Take[], counted: Counted[], now: number): FilterStop | undefined {
    if (!answer) {
      for (const policy of this.#policies) policy.decisions.refused.inc()
      return { code: 'THROTTLING_UNAVAILABLE', message: 'The rate-limit store cannot be reached and this API fails closed', policy: this.#policies[0]!.name }
    }
    if (answer.refused >= 0) {
      const refusing = counted[answer.refused]!
      refusing.policy.decisions.refused.inc()
      const retryAfter = Math.max(1, Math.ceil((refusing.end - now) / 1000))
      const unit = refusing.limit.bytes ? 'bytes' : 'requests'
      return {
        code: 'THROTTLED',
        message: `Policy "${refusing.policy.name}" allows ${refusing.limit.amount} ${unit} per ${refusing.limit.per}; retry in ${retryAfter} s`,
        headers: ['retry-after', String(retryAfter), ...rateLimitHeaders(refusing, answer.counts[answer.refused]!, now)],
        policy: refusing.policy.name,
      }
    }
    for (const policy of this.#policies) policy.decisions.allowed.inc()
    taken.set(exchange, { entries, counted, counts: answer.counts })
    return undefined
  }

  response(exchange: Exchange, response: BackendResponse): undefined {
    const took = taken.get(exchange)
    if (!took) return undefined
    const length = Number(response.headers['content-length'])
    if (length > 0) {
      const bytes = took.entries.filter((_, i) => took.counted[i]!.limit.bytes).map((entry) => ({ ...entry, cost: length }))
      if (bytes.length > 0) this.#store.charge(bytes)
    }
    // The tightest limit speaks for the request: the one with the least room left.
    let tightest = 0
    for (let i = 1; i < took.counted.length; i++) {
      if (remaining(took, i) < remaining(took, tightest)) tightest = i
    }
    const [policyName, policyValue, name, value] = rateLimitHeaders(took.counted[tightest]!, took.counts[tightest]!, Date.now())
    response.headers[policyName!] = policyValue
    response.headers[name!] = value
    return undefined
  }
}

/** The index of the policy's first choice whose condition the exchange meets (its own limits have none). */
function choiceFor(policy: AppliedPolicy, exchange: Exchange): number {
  const choices = policy.choices
  for (let i = 0; i < choices.length; i++) {
    const test = choices[i]!.test
    if (test === undefined || test(exchange)) return i
  }
  return -1
}

function remaining(taken: Taken, index: number): number {
  return taken.counted[index]!.limit.amount - taken.counts[index]!
}

/** `RateLimit-Policy: "gold";q=100;w=60` and `RateLimit: "gold";r=42;t=17` (draft-ietf-httpapi-ratelimit-headers). */
function rateLimitHeaders(counted: Counted, used: number, now: number): string[] {
  const { limit, end } = counted
  const policy = counted.policy.name
  return [
    'ratelimit-policy', limit.policyHeader ?? policyHeader(policy, limit, Math.round((end - windowAt('month', now).start) / 1000)),
    'ratelimit', `"${policy}";r=${Math.max(0, limit.amount - used)};t=${Math.max(0, Math.ceil((end - now) / 1000))}`,
  ]
}

function policyHeader(policy: string, limit: Pick<LimitSpec, 'amount' | 'bytes'>, windowSeconds: number): string {
  return `"${policy}";q=${limit.amount};w=${windowSeconds}${limit.bytes ? ';qu="content-bytes"' : ''}`
}

function applied(policy: PolicyConfig, scope: string): AppliedPolicy {
  const own: Choice = { test: undefined, limits: limitsOf(policy.name, policy) }
  return { name: policy.name, scope, key: policy.key, decisions: decisionCounters(policy.name), choices: [...policy.conditions.map((condition) => ({ test: conditionTest(condition), limits: limitsOf(policy.name, condition) })), own] }
}

function limitsOf(policy: string, source: Pick<PolicyConfig, 'limit' | 'burst'>): LimitSpec[] {
  const { limit, burst } = source
  const limits = [limitSpec(policy, (limit.requests ?? limit.bytes)!, limit.bytes !== undefined, limit.per)]
  if (burst) limits.push(limitSpec(policy, burst.requests, false, burst.per))
  return limits
}

function limitSpec(policy: string, amount: number, bytes: boolean, per: Period): LimitSpec {
  return { amount, bytes, per, policyHeader: per === 'month' ? undefined : policyHeader(policy, { amount, bytes }, SECONDS[per]) }
}

/** A condition as one test: every field it gives must match. */
function conditionTest(condition: ConditionConfig): (exchange: Exchange) => boolean {
  const tests: Array<(exchange: Exchange) => boolean> = []
  const { header, query, ip, claim } = condition
  if (header) tests.push((exchange) => headerValue(exchange, header.name) === header.equals)
  if (query) tests.push((exchange) => new URLSearchParams(exchange.query).getAll(query.name).includes(query.equals))
  if (claim) tests.push((exchange) => claimValue(exchange, claim.name) === claim.equals)
  if (ip) {
    const range = new BlockList()
    const [address, prefix] = ip.split('/')
    const family = isIPv6(address!) ? 'ipv6' : 'ipv4'
    if (prefix === undefined) range.addAddress(address!, family)
    else range.addSubnet(address!, Number(prefix), family)
    tests.push((exchange) => {
      const client = clientAddress(exchange)
      return range.check(client, isIPv6(client) ? 'ipv6' : 'ipv4')
    })
  }
  return (exchange) => tests.every((test) => test(exchange))
}

/**
 * The value a policy counts by. A consumer key on a request without a consumer (an API without consumer
 * authentication, or before it) counts by the client's address, as an anonymous consumer.
 */
function keyOf(key: KeyConfig, exchange: Exchange): string {
  const consumer = exchange.consumer
  switch (key) {
    case 'api':
      return ''
    case 'ip':
      return `ip:${clientAddress(exchange)}`
    case 'application':
      if (consumer?.application !== undefined) return `app:${consumer.application}`
      return consumer ? `sub:${consumer.subject}` : `ip:${clientAddress(exchange)}`
    case 'subject':
      return consumer ? `sub:${consumer.subject}` : `ip:${clientAddress(exchange)}`
    case 'apiKey': {
      const apiKey = headerValue(exchange, 'apikey')
      // The key itself is a secret: only its digest is kept, in memory or in Redis.
      return apiKey ? `key:${createHash('sha256').update(apiKey).digest('base64url').slice(0, 22)}` : `ip:${clientAddress(exchange)}`
    }
  }
  if ('header' in key) return `h:${headerValue(exchange, key.header) ?? ''}`
  return `c:${claimValue(exchange, key.claim) ?? ''}`
}

/** The client's address, an IPv4 client on a dual-stack socket without its `::ffff:` prefix. */
function clientAddress(exchange: Exchange): string {
  const address = exchange.client.address
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

function headerValue(exchange: Exchange, name: string): string | undefined {
  const headers = exchange.headers
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === name) return headers[i + 1]
  return undefined
}

function claimValue(exchange: Exchange, name: string): string | undefined {
  const value = exchange.consumer?.claims?.[name]
  return value === undefined || value === null ? undefined : typeof value === 'string' ? value : JSON.stringify(value)
}

function bodyBytes(exchange: Exchange): number {
  if (Buffer.isBuffer(exchange.body)) return exchange.body.length
  const declared = Number(headerValue(exchange, 'content-length'))
  return Number.isFinite(declared) && declared > 0 ? declared : 0
}
