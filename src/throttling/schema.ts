import { z } from 'zod'
import { Duration } from '../core/duration.ts'

/** The windows a limit counts in; `month` is the calendar month (UTC), as a quota. */
export const PERIODS = ['second', 'minute', 'hour', 'day', 'month'] as const
export type Period = (typeof PERIODS)[number]

/** A count of requests, or of bytes (request and response bodies), per window. */
export const Limit = z
  .strictObject({
    requests: z.number().int().min(1).optional(),
    bytes: z.number().int().min(1).optional(),
    per: z.enum(PERIODS),
  })
  .refine((limit) => (limit.requests === undefined) !== (limit.bytes === undefined), {
    message: 'must give exactly one of "requests" or "bytes"',
  })

/** Spike arrest on top of a longer window: at most this many requests in one second (or minute). */
const Burst = z.strictObject({
  requests: z.number().int().min(1),
  per: z.enum(['second', 'minute']).default('second'),
})

const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name').transform((name) => name.toLowerCase())

/**
 * What a policy counts by: the consumer's application or subject (from consumer authentication; the client's IP
 * when the request has no consumer), the API key header, the client's IP, a header, a JWT claim of the consumer,
 * or the API (or resource) as a whole.
 */
export const Key = z.union([
  z.enum(['application', 'subject', 'apiKey', 'ip', 'api']),
  z.strictObject({ header: HeaderName }),
  z.strictObject({ claim: z.string().min(1) }),
])
export type KeyConfig = z.output<typeof Key>

const Match = z.strictObject({ name: z.string().min(1), equals: z.string() })

/** A condition selects its own limits for the requests it matches; every field given must match. */
const Condition = z
  .strictObject({
    header: Match.extend({ name: HeaderName }).optional(),
    query: Match.optional(),
    /** An address or CIDR range of the client, IPv4 or IPv6. */
    ip: z.union([z.cidrv4(), z.cidrv6(), z.ipv4(), z.ipv6()], { error: 'must be an IP address or a CIDR range such as 10.0.0.0/8' }).optional(),
    claim: Match.optional(),
    limit: Limit,
    burst: Burst.optional(),
  })
  .refine((condition) => condition.header || condition.query || condition.ip || condition.claim, {
    message: 'must match on at least one of "header", "query", "ip" or "claim"',
  })
export type ConditionConfig = z.output<typeof Condition>

export const Policy = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits or "._-"'),
  limit: Limit,
  burst: Burst.optional(),
  key: Key.default('application'),
  /** The first condition that matches a request gives its limits instead of `limit` and `burst`. */
  conditions: z.array(Condition).default([]),
})
export type PolicyConfig = z.output<typeof Policy>

const wso2Tier = (name: string, requests: number, key: KeyConfig): PolicyConfig => ({ name, limit: { requests, per: 'minute' }, key, conditions: [] })

/**
 * WSO2 API Manager's default policies, by their names: a config (or an import) may name them without defining
 * them. The subscription tiers count per application, `Unauthenticated` per client address, the advanced
 * (API and resource) policies per API or resource as a whole; `Unlimited` counts nothing.
 */
export const WSO2_TIERS: Readonly<Record<string, PolicyConfig | null>> = {
  Unlimited: null,
  Gold: wso2Tier('Gold', 5000, 'application'),
  Silver: wso2Tier('Silver', 2000, 'application'),
  Bronze: wso2Tier('Bronze', 1000, 'application'),
  Unauthenticated: wso2Tier('Unauthenticated', 500, 'ip'),
  '50KPerMin': wso2Tier('50KPerMin', 50_000, 'api'),
  '20KPerMin': wso2Tier('20KPerMin', 20_000, 'api'),
  '10KPerMin': wso2Tier('10KPerMin', 10_000, 'api'),
}

const Redis = z.strictObject({
  /** `redis://[user:password@]host:port[/db]`; every node of the gateway that names the same Redis shares its counts. */
  url: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL'),
  /**
   * Longest wait for one Redis command; past it the request is counted by the fallback below. Generous enough for
   * a busy Redis or host (a take is one short script), short enough that no request hangs on a Redis that does.
   */
  commandTimeout: Duration.default(500),
  keyPrefix: z.string().default('portico:rl:'),
  /**
   * Most requests one process takes from Redis at once for a request counter and then admits without a round
   * trip. A lease is a share of what is left of the window (a 32nd), never more than is left, and one request
   * when little is: never more than the limit is admitted. 1 asks Redis for every request.
   */
  maxLease: z.number().int().min(1).max(10_000).default(64),
})

/** The top-level `throttling` block: shared policies and where counts are kept. */
export const Throttling = z.strictObject({
  policies: z.array(Policy).default([]),
  /** Count in Redis, shared by every node; without it the gateway counts alone (all its workers together). */
  redis: Redis.optional(),
  /**
   * While Redis cannot be reached: `open` admits requests, counted on this node alone against the same limits;
   * `closed` refuses them with 503 THROTTLING_UNAVAILABLE.
   */
  onStoreFailure: z.enum(['open', 'closed']).default('open'),
})
export type ThrottlingConfig = z.output<typeof Throttling>

/** The policies an API (or a resource) applies, by name: its own config's or a WSO2 tier name. */
export const throttlingFields = {
  throttling: z.strictObject({ policies: z.array(z.string().min(1)).min(1) }).optional(),
}

/** The names of an API's or resource's policies that neither the config nor the WSO2 tiers define. */
export function unknownPolicies(names: readonly string[], throttling: ThrottlingConfig): string[] {
  const defined = new Set(throttling.policies.map((policy) => policy.name))
  return names.filter((name) => !defined.has(name) && !Object.hasOwn(WSO2_TIERS, name))
}

/** Duplicate policy names, each with the index of its second definition. */
export function duplicatePolicies(throttling: ThrottlingConfig): Array<{ name: string; index: number }> {
  const seen = new Set<string>()
  const duplicates: Array<{ name: string; index: number }> = []
  throttling.policies.forEach((policy, index) => {
    if (seen.has(policy.name)) duplicates.push({ name: policy.name, index })
    seen.add(policy.name)
  })
  return duplicates
}
