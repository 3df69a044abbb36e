import type { EndpointConfig, LeafConfig } from '../config/endpoint-schema.ts'
import type { RestToSoapConfig } from '../config/soap-schema.ts'
import { RestToSoapEndpoint } from '../soap/rest-bridge.ts'
import { childEndpoints } from '../config/group-schema.ts'
import { GuardedLeaf } from '../resilience/guarded-leaf.ts'
import type { Endpoint } from './endpoint.ts'
import { DynamicEndpoint } from './dynamic.ts'
import { FailoverGroup } from './failover.ts'
import { HttpEndpoint } from './http.ts'
import { LambdaEndpoint } from './lambda.ts'
import { SoapEndpoint } from './soap.ts'
import { WsdlEndpoint } from './wsdl.ts'
import { LoadBalanceGroup } from './loadbalance.ts'
import { SecuredEndpoint } from '../security/secured-endpoint.ts'
import { PrototypeEndpoint } from './prototype.ts'
import { PrototypeBackend } from './prototype-backend.ts'

/** Builds child endpoints for groups; the snapshot passes one that reuses unchanged endpoints. */
export type EndpointBuilder = (config: EndpointConfig, id: string, inGroup: boolean) => Endpoint

/**
 * Creates the endpoint for one config node. Groups receive `build` to create their children; `inGroup` tells
 * a leaf whether a group can route around it (which decides its default suspension).
 */
export function createEndpoint(config: EndpointConfig, id: string, build: EndpointBuilder, inGroup = false): Endpoint {
  switch (config.type) {
    case 'http':
      return leaf(new HttpEndpoint(id, config), config, inGroup)
    case 'lambda':
      return leaf(new LambdaEndpoint(id, config), config, inGroup)
    case 'soap':
      return restToSoap(leaf(new SoapEndpoint(id, config), config, inGroup), config)
    case 'wsdl':
      return restToSoap(leaf(new WsdlEndpoint(id, config), config, inGroup), config)
    case 'failover':
      return new FailoverGroup(id, config, children(config, id, build))
    case 'loadbalance':
      return new LoadBalanceGroup(id, config, children(config, id, build))
    case 'dynamic':
      return leaf(new DynamicEndpoint(id, config), config, inGroup)
    case 'prototype':
      return leaf(config.url === undefined ? new PrototypeEndpoint(id, config) : new PrototypeBackend(id, { ...config, url: config.url }), config, inGroup)
  }
}

/**
 * A SOAP leaf exposed as a REST resource when its config has `rest`. Outside the leaf's wrappers, so that
 * credentials, suspension and metrics see the SOAP request the bridge sends, not the client's JSON one.
 */
function restToSoap(endpoint: Endpoint, config: { rest?: RestToSoapConfig }): Endpoint {
  return config.rest ? new RestToSoapEndpoint(endpoint, config.rest) : endpoint
}

/** Every leaf passes through here: the one place for what wraps all leaf types alike. */
function leaf(endpoint: Endpoint, config: LeafConfig, inGroup: boolean): Endpoint {
  // Inside the guard, so a backend that refuses the gateway's credentials counts as a failure of kind `auth`.
  const security = config.security
  if (security?.auth) endpoint = new SecuredEndpoint(endpoint, { ...security, auth: security.auth })
  return new GuardedLeaf(endpoint, config, inGroup)
}

/** A group's children, built (or reused) through the snapshot's builder. */
function children(group: object, id: string, build: EndpointBuilder): Endpoint[] {
  return childEndpoints(group, id).map(([child, childId]) => build(child, childId, true))
}
