import type { ApiFilter } from '../core/filter.ts'
import type { ApiConfig, ResourceConfig } from '../config/schema.ts'
import type { ThrottlingConfig } from '../throttling/schema.ts'

/** What the filter factories read from the config's `limits`. */
export interface FilterLimits {
  readonly mediationBodyBytes: number
  readonly mediationXmlBytes: number
  /** The config's `throttling` block: its policies and where counts are kept. */
  readonly throttling?: ThrottlingConfig
}

/** Makes one filter for a resource of an API, or none when the API asks nothing of it there. */
type FilterFactory = (api: ApiConfig, resource: ResourceConfig, limits: FilterLimits) => ApiFilter | undefined

/** One entry of the chain: whether an API's resource needs the filter, and the import that makes it. */
interface FilterEntry {
  readonly name: string
  readonly needed: (api: ApiConfig, resource: ResourceConfig, limits: FilterLimits) => boolean
  readonly load: () => Promise<FilterFactory>
}

/**
 * Every API filter, in the order a request passes them (Envoy's HTTP filter chain); the response passes them in
 * reverse. The one place a new filter joins: consumer authentication and throttling belong before mediation,
 * so that a refused request costs no mediation and a sequence sees who the consumer is. A filter's module (XML,
 * JWT, CEL and their libraries) is imported when a config first needs it, not at start.
 */
const FILTERS: readonly FilterEntry[] = [
  // First: a SOAP API's errors are Faults, and an envelope that is not one goes no further.
  {
    name: 'soap',
    needed: (api) => api.soap !== undefined,
    load: async () => {
      const { soapApiFilter } = await import('../soap/api-filter.ts')
      return (api) => (api.soap ? soapApiFilter(api.soap) : undefined)
    },
  },
  // Before authentication: a browser's preflight carries no credentials.
  {
    name: 'cors',
    needed: (api) => api.cors !== undefined,
    load: async () => {
      const { CorsFilter } = await import('../access/cors.ts')
      return (api) => (api.cors ? new CorsFilter(api.cors) : undefined)
    },
  },
  // Before mediation: a refused request costs no mediation, and a sequence sees who the consumer is.
  {
    name: 'consumer-auth',
    needed: (api) => api.security !== undefined,
    load: async () => {
      const { ConsumerAuthentication } = await import('../access/consumer-auth.ts')
      return (api, resource) => (api.security ? new ConsumerAuthentication(api.security, resource) : undefined)
    },
  },
  // After consumer authentication, so that a limit can count by the consumer; before mediation, which a refused
  // request should not cost. API-level policies count once for the API, resource-level ones per resource.
  {
    name: 'throttling',
    needed: (api, resource, limits) =>
      limits.throttling !== undefined && ((api.throttling?.policies?.length ?? 0) > 0 || (resource.throttling?.policies?.length ?? 0) > 0),
    load: async () => {
      const { throttlingFilter } = await import('../throttling/filter.ts')
      return (api, resource, limits) =>
        limits.throttling &&
        throttlingFilter(
          [
            { names: api.throttling?.policies ?? [], scope: `${api.name}:${api.version}` },
            { names: resource.throttling?.policies ?? [], scope: `${api.name}:${api.version} ${resource.uriTemplate}` },
          ],
          limits.throttling,
        )
    },
  },
  {
    name: 'mediation',
    needed: (api, resource) => [api.inSequence, api.outSequence, resource.inSequence, resource.outSequence].some((sequence) => (sequence?.length ?? 0) > 0),
    load: async () => {
      const { Mediation } = await import('../mediation/run.ts')
      return (api, resource, limits) => Mediation.compile(api, resource, limits.mediationBodyBytes, limits.mediationXmlBytes)
    },
  },
]

/** The filter factories imported so far, by name: filled by `loadFilterModules`. */
const factories = new Map<string, FilterFactory>()

/** Imports the filters `apis` need, before a snapshot is built from them (building stays synchronous). */
export async function loadFilterModules(apis: readonly ApiConfig[], limits: FilterLimits): Promise<void> {
  const loads = new Map<string, Promise<FilterFactory>>()
  for (const api of apis) {
    for (const entry of FILTERS) {
      if (factories.has(entry.name) || loads.has(entry.name)) continue
      if (api.resources.some((resource) => entry.needed(api, resource, limits))) loads.set(entry.name, entry.load())
    }
  }
  await Promise.all([...loads].map(async ([name, load]) => factories.set(name, await load)))
}

/** The filters of one resource, built with the snapshot once `loadFilterModules` has imported them. */
export function filterChain(api: ApiConfig, resource: ResourceConfig, limits: FilterLimits): ApiFilter[] {
  const filters: ApiFilter[] = []
  for (const entry of FILTERS) {
    if (!entry.needed(api, resource, limits)) continue
    const factory = factories.get(entry.name)
    if (!factory) throw new Error(`API filter "${entry.name}" was not loaded before the snapshot was built`)
    const filter = factory(api, resource, limits)
    if (filter) filters.push(filter)
  }
  return filters
}
