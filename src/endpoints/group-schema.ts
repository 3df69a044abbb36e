import { z } from 'zod'
import { Duration } from '../core/duration.ts'
import { EndpointName } from './endpoint-name.ts'
import { BALANCING_ALGORITHMS, Session } from '../balancing/schema.ts'

/**
 * A group's children as TypeScript sees them. TypeScript cannot infer a type that contains itself, so the
 * static type is loose here and `childEndpoints` (tree.ts) restores it; at run time every child is a full `Endpoint`.
 */
interface ChildEndpointConfig {
  readonly type: string
}

/**
 * Groups hold endpoints of every type, groups included: the union that schema.ts builds from the groups here. It
 * hands the union back through `holdEndpoints` rather than this file importing it, which would make the two
 * files import each other; it is read only inside the getters below, when a config is parsed.
 */
let endpoint: z.ZodType<ChildEndpointConfig> | undefined
export function holdEndpoints(union: z.ZodType<ChildEndpointConfig>): void {
  endpoint = union
}
const Children = (): z.ZodArray<z.ZodType<ChildEndpointConfig>> => z.array(endpoint!).min(1, 'must list at least one endpoint')

/** Fields of both group types: how many attempts one request may make, and when it may be sent again. */
const groupFields = {
  name: EndpointName.optional(),
  /** Most attempts for one request across the group's children; default: each child at most once. */
  maxAttempts: z.number().int().min(1).optional(),
  /** Longest time one request may spend waiting for response headers over all attempts; 0: no bound. */
  totalTimeout: Duration.default(0),
  /** Request bodies up to this size are buffered so a failed attempt can be sent again. */
  replayBufferBytes: z.number().int().min(0).default(1_048_576),
  /** Send a POST or PATCH again after its bytes reached a backend that then failed. */
  retryNonIdempotent: z.boolean().default(false),
}

/** Sends to the first ready endpoint, and on failure to the next ready one. */
export const FailoverEndpoint = z.strictObject({
  type: z.literal('failover'),
  ...groupFields,
  /** Go back to the first endpoint as soon as it is ready again; false: stay on the one that last worked. */
  returnToPrimary: z.boolean().default(true),
  get endpoints() {
    return Children()
  },
})

/** Spreads requests over its endpoints; a failed attempt goes to another ready endpoint. */
export const LoadBalanceEndpoint = z
  .strictObject({
    type: z.literal('loadbalance'),
    ...groupFields,
    algorithm: z.enum(BALANCING_ALGORITHMS).default('roundRobin'),
    /** One positive weight per endpoint, in order; for weightedRoundRobin only. */
    weights: z.array(z.number().int().min(1).max(1000)).optional(),
    /** Send a failed request to another endpoint (WSO2's failOver); false: the client gets the failure. */
    failover: z.boolean().default(true),
    session: Session.optional(),
    get endpoints() {
      return Children()
    },
  })
  .superRefine((group, ctx) => {
    if (group.algorithm === 'weightedRoundRobin' && group.weights === undefined) {
      ctx.addIssue({ code: 'custom', path: ['weights'], message: 'is required by weightedRoundRobin: one weight per endpoint' })
    }
    if (group.weights !== undefined && group.algorithm !== 'weightedRoundRobin') {
      ctx.addIssue({ code: 'custom', path: ['weights'], message: `applies to weightedRoundRobin only, not ${group.algorithm}` })
    }
    if (group.weights !== undefined && group.weights.length !== group.endpoints.length) {
      ctx.addIssue({ code: 'custom', path: ['weights'], message: `has ${group.weights.length} weights for ${group.endpoints.length} endpoints` })
    }
  })

export type FailoverEndpointConfig = z.output<typeof FailoverEndpoint>
export type LoadBalanceEndpointConfig = z.output<typeof LoadBalanceEndpoint>
