import type { EndpointConfig, LeafConfig } from '../config/endpoint-schema.ts'
import type { Endpoint } from './endpoint.ts'
import { HttpEndpoint } from './http.ts'
import { SecuredEndpoint } from '../security/secured-endpoint.ts'

/** Builds child endpoints for groups; the snapshot passes one that reuses unchanged endpoints. */
export type EndpointBuilder = (config: EndpointConfig, id: string) => Endpoint

/** Creates the endpoint for one config node. Groups receive `build` to create their children. */
export function createEndpoint(config: EndpointConfig, id: string, _build: EndpointBuilder): Endpoint {
  switch (config.type) {
    case 'http':
      return leaf(new HttpEndpoint(id, config), config)
  }
}

/** Every leaf passes through here: the one place for what wraps all leaf types alike. */
function leaf(endpoint: Endpoint, config: LeafConfig): Endpoint {
  const security = config.security
  if (security?.auth) endpoint = new SecuredEndpoint(endpoint, { ...security, auth: security.auth })
  return endpoint
}
