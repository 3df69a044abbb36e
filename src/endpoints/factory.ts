import type { EndpointConfig } from '../config/endpoint-schema.ts'
import type { Endpoint } from './endpoint.ts'
import { HttpEndpoint } from './http.ts'

/** Builds child endpoints for groups; the snapshot passes one that reuses unchanged endpoints. */
export type EndpointBuilder = (config: EndpointConfig, id: string) => Endpoint

/** Creates the endpoint for one config node. Groups receive `build` to create their children. */
export function createEndpoint(config: EndpointConfig, id: string, _build: EndpointBuilder): Endpoint {
  switch (config.type) {
    case 'http':
      return new HttpEndpoint(id, config)
  }
}
