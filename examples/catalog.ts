import { fileURLToPath } from 'node:url'
import type { Server } from 'node:http'
import { startBasicAuthBackend, startEchoBackend, startLambdaStandIn } from './backends.ts'
import { startAuthorizationServer } from './authorization-server.ts'
import { makeExampleCertificates } from './certificates.ts'
import { startPizzaShackBackend } from './pizzashack-backend.ts'
import { startSoapBackend } from './soap-backend.ts'

/** One request worth trying against a running example, and what it answers. */
export interface SampleRequest {
  method?: string
  path: string
  headers?: Record<string, string>
  body?: string
  status: number
  /** Text the response body holds. */
  contains: string
}

export interface Example {
  /** The stand-in backends the config points at, started on 127.0.0.1. */
  backends(): Promise<Server[]>
  samples: SampleRequest[]
  /** What the stand-ins do not cover (an endpoint that only real infrastructure can answer). */
  note?: string
}

const none = async () => []

/** Every config in examples/, by file name: what `npm run example -- NAME` starts beside the gateway. */
export const examples: Record<string, Example> = {
  portico: {
    backends: async () => [await startPizzaShackBackend(9080)],
    samples: [
      { path: '/pizzashack/1.0.0/menu', status: 200, contains: 'BBQ Chicken Bacon' },
      { path: '/pizzashack/menu/2', headers: { 'X-Portico-Environment': 'sandbox' }, status: 200, contains: 'Chicken Parmesan' },
      { path: '/items/v1/3', status: 200, contains: 'Garden Fresh' },
    ],
  },
  failover: {
    backends: async () =>
      Promise.all([
        startEchoBackend(9081, 'orders-primary'),
        startEchoBackend(9082, 'orders-standby'),
        startEchoBackend(9083, 'catalogue-1'),
        startEchoBackend(9084, 'catalogue-2'),
        startEchoBackend(9085, 'catalogue-3'),
      ]),
    samples: [
      { path: '/orders/v1/42', status: 200, contains: '"backend":"orders-primary"' },
      { path: '/catalogue/v1/items', status: 200, contains: '"backend":"catalogue-' },
    ],
  },
  mediation: {
    backends: async () => Promise.all([startEchoBackend(9181, 'orders-eu'), startEchoBackend(9182, 'orders-us'), startEchoBackend(9183, 'orders-ap')]),
    samples: [
      { path: '/orders/v1/by-header/42', headers: { Authorization: 'Bearer x', 'X-Region': 'us' }, status: 200, contains: '"backend":"orders-us"' },
      { path: '/orders/v1/by-query/42?region=ap', headers: { Authorization: 'Bearer x' }, status: 200, contains: '"backend":"orders-ap"' },
      { path: '/orders/v1/by-header/42', status: 401, contains: 'credentials required' },
    ],
  },
  throttling: {
    backends: async () => [await startEchoBackend(9381, 'orders')],
    samples: [
      { path: '/orders/v1/42', status: 200, contains: '"backend":"orders"' },
      { path: '/orders/v1/42', headers: { 'X-Plan': 'premium' }, status: 200, contains: '"backend":"orders"' },
      { path: '/orders/v1/demo', status: 200, contains: '"backend":"orders"' },
      { path: '/orders/v1/demo', status: 429, contains: 'THROTTLED' },
    ],
  },
  prototype: {
    backends: none,
    samples: [
      { path: '/pizzashack/1.0.0/menu?veg=true', status: 200, contains: 'Garden Veggie' },
      { path: '/pizzashack/1.0.0/menu/7/price?size=large', status: 200, contains: '17.99' },
    ],
  },
  soap: {
    backends: async () => [await startSoapBackend(9090)],
    samples: [
      { method: 'POST', path: '/calc/v1/sum', headers: { 'content-type': 'application/json' }, body: '{"a":2,"b":3}', status: 200, contains: '5' },
      { path: '/calculator/1.0.0?wsdl', status: 200, contains: 'CalculatorService' },
    ],
  },
  lambda: {
    backends: async () => [await startLambdaStandIn(4566)],
    samples: [{ path: '/orders/v1/42', headers: { 'X-Portico-Environment': 'sandbox' }, status: 200, contains: '"function":"orders-read"' }],
    note: 'the sandbox endpoint runs against a local Lambda stand-in on 127.0.0.1:4566; production names real AWS functions and credentials',
  },
  tls: {
    backends: async () => {
      makeExampleCertificates(fileURLToPath(new URL('./tls/', import.meta.url)))
      return [await startEchoBackend(9281, 'orders')]
    },
    // The plain port only redirects; the HTTPS port is tried with the curl lines in examples/tls.yaml.
    samples: [{ path: '/orders/v1/42', status: 308, contains: '' }],
    note: 'HTTPS on https://localhost:8243 with examples/tls/ca.pem as the CA (curl lines in examples/tls.yaml)',
  },
  security: {
    backends: async () => [await startBasicAuthBackend(9081, 'orders-sandbox', 'gateway', 'pässwort (UTF-8 is fine)')],
    samples: [{ path: '/orders/v1/items', headers: { 'X-Portico-Environment': 'sandbox' }, status: 200, contains: '"backend":"orders-sandbox"' }],
    note: "the sandbox endpoint's Basic-protected backend runs locally; the Digest and OAuth2 endpoints name hosts of a real deployment",
  },
  access: {
    backends: async () => Promise.all([startEchoBackend(9281, 'orders-production'), startEchoBackend(9282, 'orders-sandbox'), startAuthorizationServer(9190)]),
    samples: [
      { path: '/orders/v1/items', headers: { apikey: 'demo-production-key' }, status: 200, contains: '"backend":"orders-production"' },
      { path: '/orders/v1/items', headers: { apikey: 'demo-sandbox-key' }, status: 200, contains: '"backend":"orders-sandbox"' },
      { path: '/orders/v1/items', status: 401, contains: 'MISSING_CREDENTIALS' },
      { path: '/orders/v1/health', status: 200, contains: '"status":"ok"' },
    ],
    note: 'tokens: curl -s -u shop-sandbox:sandbox-secret -d grant_type=client_credentials -d scope=orders:read localhost:9190/token (docs/access.md)',
  },
  tracing: {
    backends: async () => [await startEchoBackend(9292, 'orders-standby')],
    samples: [
      { path: '/orders/v1/42', status: 200, contains: '"backend":"orders-standby"' },
      { path: '/orders/v1/42', headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }, status: 200, contains: '"path":"/orders/42"' },
    ],
    note: 'spans go to a collector on 127.0.0.1:4318 when one runs (docs/observability.md); without one they are dropped and counted',
  },
  'wso2-import': {
    backends: async () => [await startEchoBackend(8595, 'users')],
    samples: [
      { path: '/user/2.0/users/7', status: 200, contains: '"path":"/users/users/7"' },
      { path: '/user/users/7', headers: { 'X-Portico-Environment': 'sandbox' }, status: 200, contains: '"path":"/users-sandbox/users/7"' },
    ],
  },
}

/** A sample as the curl command a reader would type. */
export function curlLine(sample: SampleRequest, port = 8280): string {
  const parts = ['curl', '-i']
  if (sample.method && sample.method !== 'GET') parts.push('-X', sample.method)
  for (const [name, value] of Object.entries(sample.headers ?? {})) parts.push('-H', `'${name}: ${value}'`)
  if (sample.body !== undefined) parts.push('-d', `'${sample.body}'`)
  parts.push(`'localhost:${port}${sample.path}'`)
  return parts.join(' ')
}
