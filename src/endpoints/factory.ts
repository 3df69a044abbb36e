import type { EndpointConfig, LeafConfig } from '../config/endpoint-schema.ts'
import type { Endpoint } from './endpoint.ts'
import { HttpEndpoint } from './http.ts'
import { PrototypeEndpoint } from './prototype.ts'

/** Builds child endpoints for groups; the snapshot passes one that reuses unchanged endpoints. */
export type EndpointBuilder = (config: EndpointConfig, id: string) => Endpoint

/** Creates the endpoint for one config node. Groups receive `build` to create their children. */
export function createEndpoint(config: EndpointConfig, id: string, _build: EndpointBuilder): Endpoint {
  switch (config.type) {
    case 'http':
      return leaf(new HttpEndpoint(id, config), config)
    case 'prototype':
      return leaf(new PrototypeEndpoint(id, config), config)
  }
}

/** Every leaf passes through here: the one place for what wraps all leaf types alike. */
function leaf(endpoint: Endpoint, _config: LeafConfig): Endpoint {
  return endpoint
}
