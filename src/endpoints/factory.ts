import type { Endpoint } from '../core/endpoint.ts'
import type { FailoverEndpointConfig, LoadBalanceEndpointConfig } from './group-schema.ts'
import { suspensionGuard } from './guarded-leaf.ts'
import { compose, type Interceptor } from './interceptor.ts'
import type { EndpointConfig } from './schema.ts'
import { childEndpoints, endpointNodes } from './tree.ts'
import { tracedAttempt } from './traced-attempt.ts'

/** Builds child endpoints for groups; the snapshot passes one that reuses unchanged endpoints. */
export type EndpointBuilder = (config: EndpointConfig, id: string, inGroup: boolean) => Endpoint

type GroupConfig = FailoverEndpointConfig | LoadBalanceEndpointConfig
type LeafEndpointConfig = Exclude<EndpointConfig, GroupConfig>
type ConfigOf<T extends EndpointConfig['type']> = Extract<EndpointConfig, { type: T }>
type LeafMaker<T extends LeafEndpointConfig['type']> = (id: string, config: ConfigOf<T>) => Endpoint
type GroupMaker<T extends GroupConfig['type']> = (id: string, config: ConfigOf<T>, children: Endpoint[]) => Endpoint

/**
 * Every leaf type by its config's `type`, as Caddy registers its modules: a new type is one entry here, and the
 * mapped type refuses a `type` of the schema that has no entry. Each entry imports its module when a config
 * first uses the type: a gateway of REST APIs never loads the SOAP, Lambda or prototype libraries.
 */
const LEAVES: { [T in LeafEndpointConfig['type']]: () => Promise<LeafMaker<T>> } = {
  http: async () => {
    const { HttpEndpoint } = await import('./http.ts')
    return (id, config) => new HttpEndpoint(id, config)
  },
  soap: async () => {
    const { SoapEndpoint } = await import('./soap.ts')
    return (id, config) => new SoapEndpoint(id, config)
  },
  wsdl: async () => {
    const { WsdlEndpoint } = await import('./wsdl.ts')
    return (id, config) => new WsdlEndpoint(id, config)
  },
  lambda: async () => {
    const { LambdaEndpoint } = await import('./lambda.ts')
    return (id, config) => new LambdaEndpoint(id, config)
  },
  dynamic: async () => {
    const { DynamicEndpoint } = await import('./dynamic.ts')
    return (id, config) => new DynamicEndpoint(id, config)
  },
  prototype: async () => {
    const [{ PrototypeEndpoint }, { PrototypeBackend }] = await Promise.all([import('./prototype.ts'), import('./prototype-backend.ts')])
    return (id, config) => (config.url === undefined ? new PrototypeEndpoint(id, config) : new PrototypeBackend(id, { ...config, url: config.url }))
  },
}

/** Every group type: it gets its children built (or reused) through the snapshot's builder. */
const GROUPS: { [T in GroupConfig['type']]: () => Promise<GroupMaker<T>> } = {
  failover: async () => {
    const { FailoverGroup } = await import('./failover.ts')
    return (id, config, children) => new FailoverGroup(id, config, children)
  },
  loadbalance: async () => {
    const { LoadBalanceGroup } = await import('./loadbalance.ts')
    return (id, config, children) => new LoadBalanceGroup(id, config, children)
  },
}

/** A leaf interceptor: reads the leaf's config and returns its interceptor, or none. */
type LeafInterceptor = (config: LeafEndpointConfig, inGroup: boolean) => Interceptor | undefined

/**
 * What every leaf gets, whatever its type, outermost first: each entry reads the leaf's config and returns its
 * interceptor, or none; `load` imports it only for a config that needs it. REST-to-SOAP is outside the others,
 * so that credentials, suspension and metrics see the SOAP request it sends, not the client's JSON; backend
 * security is inside the suspension guard, so that a backend refusing the gateway's credentials counts as a
 * failure of kind `auth`. Backend protection is outside the suspension guard: a request it holds back never
 * reached the backend and says nothing about its health. The attempt's span is outermost, so that its time and
 * failure are what the group saw.
 */
const LEAF_INTERCEPTORS: readonly { name: string; needed: (config: LeafEndpointConfig) => boolean; load: () => Promise<LeafInterceptor> }[] = [
  { name: 'tracedAttempt', needed: () => true, load: async () => tracedAttempt },
  { name: 'restToSoap', needed: (config) => 'rest' in config && config.rest !== undefined, load: async () => (await import('./rest-bridge.ts')).restToSoap },
  { name: 'capacityGuard', needed: (config) => config.capacity !== undefined, load: async () => (await import('./capacity-guard.ts')).capacityGuard },
  { name: 'suspensionGuard', needed: () => true, load: async () => suspensionGuard },
  { name: 'backendSecurity', needed: (config) => 'security' in config && config.security?.auth !== undefined, load: async () => (await import('./secured-endpoint.ts')).backendSecurity },
]

/** What has been imported so far, by type or interceptor name: filled by `loadEndpointModules`. */
const makers = new Map<string, (...args: never[]) => unknown>()

/**
 * Imports the modules the endpoint trees of `configs` need, before a snapshot is built from them: building stays
 * synchronous, so the snapshot it makes is swapped in whole or not at all.
 */
export async function loadEndpointModules(configs: Iterable<EndpointConfig>): Promise<void> {
  const loads = new Map<string, Promise<(...args: never[]) => unknown>>()
  for (const root of configs) {
    for (const { node } of endpointNodes(root)) {
      const config = node as EndpointConfig
      if (!makers.has(config.type) && !loads.has(config.type)) {
        const load = isGroup(config) ? GROUPS[config.type] : LEAVES[config.type as LeafEndpointConfig['type']]
        loads.set(config.type, load() as Promise<(...args: never[]) => unknown>)
      }
      if (isGroup(config)) continue
      for (const interceptor of LEAF_INTERCEPTORS) {
        if (!makers.has(interceptor.name) && !loads.has(interceptor.name) && interceptor.needed(config)) loads.set(interceptor.name, interceptor.load())
      }
    }
  }
  await Promise.all([...loads].map(async ([name, load]) => makers.set(name, await load)))
}

function loaded<T>(name: string): T {
  const maker = makers.get(name)
  if (!maker) throw new Error(`endpoint module "${name}" was not loaded before the snapshot was built`)
  return maker as T
}

/**
 * Creates the endpoint for one config node, once `loadEndpointModules` has imported what it needs. Groups receive
 * `build` to create their children; `inGroup` tells a leaf whether a group can route around it (which decides its
 * default suspension).
 */
export function createEndpoint(config: EndpointConfig, id: string, build: EndpointBuilder, inGroup = false): Endpoint {
  if (isGroup(config)) {
    const create = loaded<GroupMaker<GroupConfig['type']>>(config.type) as (id: string, config: GroupConfig, children: Endpoint[]) => Endpoint
    return create(id, config, childEndpoints(config, id).map(([child, childId]) => build(child, childId, true)))
  }
  const create = loaded<(id: string, config: LeafEndpointConfig) => Endpoint>(config.type)
  const interceptors: Interceptor[] = []
  for (const { name, needed } of LEAF_INTERCEPTORS) {
    if (!needed(config)) continue
    const wrap = loaded<LeafInterceptor>(name)(config, inGroup)
    if (wrap) interceptors.push(wrap)
  }
  return compose(create(id, config), interceptors)
}

function isGroup(config: EndpointConfig): config is GroupConfig {
  return Object.hasOwn(GROUPS, config.type)
}
