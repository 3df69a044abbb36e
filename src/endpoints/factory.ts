import type { EndpointConfig, LeafConfig } from '../config/endpoint-schema.ts'
import type { RestToSoapConfig } from '../config/soap-schema.ts'
import { RestToSoapEndpoint } from '../soap/rest-bridge.ts'
import type { Endpoint } from './endpoint.ts'
import { HttpEndpoint } from './http.ts'
import { LambdaEndpoint } from './lambda.ts'
import { SoapEndpoint } from './soap.ts'
import { WsdlEndpoint } from './wsdl.ts'

/** Builds child endpoints for groups; the snapshot passes one that reuses unchanged endpoints. */
export type EndpointBuilder = (config: EndpointConfig, id: string) => Endpoint

/** Creates the endpoint for one config node. Groups receive `build` to create their children. */
export function createEndpoint(config: EndpointConfig, id: string, _build: EndpointBuilder): Endpoint {
  switch (config.type) {
    case 'http':
      return leaf(new HttpEndpoint(id, config), config)
    case 'lambda':
      return leaf(new LambdaEndpoint(id, config), config)
    case 'soap':
      return leaf(restToSoap(new SoapEndpoint(id, config), config), config)
    case 'wsdl':
      return leaf(restToSoap(new WsdlEndpoint(id, config), config), config)
  }
}

/** A SOAP leaf exposed as a REST resource when its config has `rest`. */
function restToSoap(endpoint: Endpoint, config: { rest?: RestToSoapConfig }): Endpoint {
  return config.rest ? new RestToSoapEndpoint(endpoint, config.rest) : endpoint
}

/** Every leaf passes through here: the one place for what wraps all leaf types alike. */
function leaf(endpoint: Endpoint, _config: LeafConfig): Endpoint {
  return endpoint
}
