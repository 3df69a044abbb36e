import type { ApiFilter } from '../core/filter.ts'
import type { ApiConfig, ResourceConfig } from '../config/schema.ts'
import { ConsumerAuthentication } from '../access/consumer-auth.ts'
import { CorsFilter } from '../access/cors.ts'
import { Mediation } from '../mediation/run.ts'
import { soapApiFilter } from '../soap/api-filter.ts'
import type { ThrottlingConfig } from '../throttling/schema.ts'
import { throttlingFilter } from '../throttling/filter.ts'

/** What the filter factories read from the config's `limits`. */
export interface FilterLimits {
  readonly mediationBodyBytes: number
  readonly mediationXmlBytes: number
  /** The config's `throttling` block: its policies and where counts are kept. */
  readonly throttling?: ThrottlingConfig
}

/** Makes one filter for a resource of an API, or none when the API asks nothing of it there. */
type FilterFactory = (api: ApiConfig, resource: ResourceConfig, limits: FilterLimits) => ApiFilter | undefined

/**
 * Every API filter, in the order a request passes them (Envoy's HTTP filter chain); the response passes them in
 * reverse. The one place a new filter joins: consumer authentication and throttling belong before mediation,
 * so that a refused request costs no mediation and a sequence sees who the consumer is.
 */
const FILTERS: readonly FilterFactory[] = [
  // First: a SOAP API's errors are Faults, and an envelope that is not one goes no further.
  (api) => (api.soap ? soapApiFilter(api.soap) : undefined),
  // Before authentication: a browser's preflight carries no credentials.
  (api) => (api.cors ? new CorsFilter(api.cors) : undefined),
  // Before mediation: a refused request costs no mediation, and a sequence sees who the consumer is.
  (api, resource) => (api.security ? new ConsumerAuthentication(api.security, resource) : undefined),
  // After consumer authentication, so that a limit can count by the consumer; before mediation, which a refused
  // request should not cost. API-level policies count once for the API, resource-level ones per resource.
  (api, resource, limits) =>
    limits.throttling &&
    throttlingFilter(
      [
        { names: api.throttling?.policies ?? [], scope: `${api.name}:${api.version}` },
        { names: resource.throttling?.policies ?? [], scope: `${api.name}:${api.version} ${resource.uriTemplate}` },
      ],
      limits.throttling,
    ),
  (api, resource, limits) => Mediation.compile(api, resource, limits.mediationBodyBytes, limits.mediationXmlBytes),
]

/** The filters of one resource, built with the snapshot. */
export function filterChain(api: ApiConfig, resource: ResourceConfig, limits: FilterLimits): ApiFilter[] {
  const filters: ApiFilter[] = []
  for (const factory of FILTERS) {
    const filter = factory(api, resource, limits)
    if (filter) filters.push(filter)
  }
  return filters
}
