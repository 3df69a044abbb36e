import type { EndpointConfig, LeafConfig } from '../config/endpoint-schema.ts'
import type { Endpoint } from './endpoint.ts'
import { DynamicEndpoint } from './dynamic.ts'
import { HttpEndpoint } from './http.ts'
import { LambdaEndpoint } from './lambda.ts'

/** Builds child endpoints for groups; the snapshot passes one that reuses unchanged endpoints. */
export type EndpointBuilder = (config: EndpointConfig, id: string) => Endpoint

/** Creates the endpoint for one config node. Groups receive `build` to create their children. */
export function createEndpoint(config: EndpointConfig, id: string, _build: EndpointBuilder): Endpoint {
  switch (config.type) {
    case 'http':
      return leaf(new HttpEndpoint(id, config), config)
    case 'lambda':
      return leaf(new LambdaEndpoint(id, config), config)
    case 'dynamic':
      return leaf(new DynamicEndpoint(id, config), config)
  }
}

/** Every leaf passes through here: the one place for what wraps all leaf types alike. */
function leaf(endpoint: Endpoint, _config: LeafConfig): Endpoint {
  return endpoint
}
