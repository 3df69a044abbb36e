import type { Endpoint } from '../core/endpoint.ts'
import { DynamicEndpoint } from './dynamic.ts'
import { FailoverGroup } from './failover.ts'
import type { FailoverEndpointConfig, LoadBalanceEndpointConfig } from './group-schema.ts'
import { suspensionGuard } from './guarded-leaf.ts'
import { HttpEndpoint } from './http.ts'
import { compose, type Interceptor } from './interceptor.ts'
import { LambdaEndpoint } from './lambda.ts'
import { LoadBalanceGroup } from './loadbalance.ts'
import { PrototypeEndpoint } from './prototype.ts'
import { restToSoap } from './rest-bridge.ts'
import type { EndpointConfig } from './schema.ts'
import { backendSecurity } from './secured-endpoint.ts'
import { capacityGuard } from './capacity-guard.ts'
import { childEndpoints } from './tree.ts'
import { tracedAttempt } from './traced-attempt.ts'
import { SoapEndpoint } from './soap.ts'
import { WsdlEndpoint } from './wsdl.ts'
import { PrototypeBackend } from './prototype-backend.ts'

/** Builds child endpoints for groups; the snapshot passes one that reuses unchanged endpoints. */
export type EndpointBuilder = (config: EndpointConfig, id: string, inGroup: boolean) => Endpoint

type GroupConfig = FailoverEndpointConfig | LoadBalanceEndpointConfig
type LeafEndpointConfig = Exclude<EndpointConfig, GroupConfig>
type ConfigOf<T extends EndpointConfig['type']> = Extract<EndpointConfig, { type: T }>

/**
 * Every leaf type by its config's `type`, as Caddy registers its modules: a new type is one entry here, and the
 * mapped type refuses a `type` of the schema that has no entry.
 */
const LEAVES: { [T in LeafEndpointConfig['type']]: (id: string, config: ConfigOf<T>) => Endpoint } = {
  http: (id, config) => new HttpEndpoint(id, config),
  soap: (id, config) => new SoapEndpoint(id, config),
  wsdl: (id, config) => new WsdlEndpoint(id, config),
  lambda: (id, config) => new LambdaEndpoint(id, config),
  dynamic: (id, config) => new DynamicEndpoint(id, config),
  prototype: (id, config) => (config.url === undefined ? new PrototypeEndpoint(id, config) : new PrototypeBackend(id, { ...config, url: config.url })),
}

/** Every group type: it gets its children built (or reused) through the snapshot's builder. */
const GROUPS: { [T in GroupConfig['type']]: (id: string, config: ConfigOf<T>, children: Endpoint[]) => Endpoint } = {
  failover: (id, config, children) => new FailoverGroup(id, config, children),
  loadbalance: (id, config, children) => new LoadBalanceGroup(id, config, children),
}

/**
 * What every leaf gets, whatever its type, outermost first: each entry reads the leaf's config and returns its
 * interceptor, or none. REST-to-SOAP is outside the others, so that credentials, suspension and metrics see the
 * SOAP request it sends, not the client's JSON; backend security is inside the suspension guard, so that a
 * backend refusing the gateway's credentials counts as a failure of kind `auth`. Backend protection is outside the
 * suspension guard: a request it holds back never reached the backend and says nothing about its health. The attempt's span is
 * outermost, so that its time and failure are what the group saw.
 */
const LEAF_INTERCEPTORS: readonly ((config: LeafEndpointConfig, inGroup: boolean) => Interceptor | undefined)[] = [
  tracedAttempt,
  restToSoap,
  capacityGuard,
  suspensionGuard,
  backendSecurity,
]

/**
 * Creates the endpoint for one config node. Groups receive `build` to create their children; `inGroup` tells
 * a leaf whether a group can route around it (which decides its default suspension).
 */
export function createEndpoint(config: EndpointConfig, id: string, build: EndpointBuilder, inGroup = false): Endpoint {
  if (isGroup(config)) {
    const create = GROUPS[config.type] as (id: string, config: GroupConfig, children: Endpoint[]) => Endpoint
    return create(id, config, childEndpoints(config, id).map(([child, childId]) => build(child, childId, true)))
  }
  const create = LEAVES[config.type] as (id: string, config: LeafEndpointConfig) => Endpoint
  const interceptors: Interceptor[] = []
  for (const interceptor of LEAF_INTERCEPTORS) {
    const wrap = interceptor(config, inGroup)
    if (wrap) interceptors.push(wrap)
  }
  return compose(create(id, config), interceptors)
}

function isGroup(config: EndpointConfig): config is GroupConfig {
  return Object.hasOwn(GROUPS, config.type)
}
