import type { EndpointConfig, LeafConfig } from '../config/endpoint-schema.ts'
import { childEndpoints } from '../config/group-schema.ts'
import { GuardedLeaf } from '../resilience/guarded-leaf.ts'
import type { Endpoint } from './endpoint.ts'
import { FailoverGroup } from './failover.ts'
import { HttpEndpoint } from './http.ts'
import { LoadBalanceGroup } from './loadbalance.ts'

/** Builds child endpoints for groups; the snapshot passes one that reuses unchanged endpoints. */
export type EndpointBuilder = (config: EndpointConfig, id: string) => Endpoint

/** Creates the endpoint for one config node. Groups receive `build` to create their children. */
export function createEndpoint(config: EndpointConfig, id: string, build: EndpointBuilder): Endpoint {
  switch (config.type) {
    case 'http':
      return leaf(new HttpEndpoint(id, config), config)
    case 'failover':
      return new FailoverGroup(id, config, children(config, id, build))
    case 'loadbalance':
      return new LoadBalanceGroup(id, config, children(config, id, build))
  }
}

/** Every leaf passes through here: the one place for what wraps all leaf types alike. */
function leaf(endpoint: Endpoint, config: LeafConfig): Endpoint {
  return new GuardedLeaf(endpoint, config)
}

/** A group's children, built (or reused) through the snapshot's builder. */
function children(group: object, id: string, build: EndpointBuilder): Endpoint[] {
  return childEndpoints(group, id).map(([child, childId]) => build(child, childId))
}
