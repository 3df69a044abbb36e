// What `npm run bench` measures. Each scenario is one request shape sent through Portico and, for reference,
// through the Node floor (bench/floor.ts) to the same nginx location in the same run.

import { exportSPKI, generateKeyPair, SignJWT } from 'jose'

export interface Scenario {
  name: string
  description: string
  /** The highest acceptable ratio of Portico's CPU per request to the floor's. */
  target: number
  method: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** The nginx location the request ends at; the floor is called with this path. */
  upstreamPath: string
  /** The path Portico is called with. */
  porticoPath: string
  /** The `apis:` entries of the gateway's config, given nginx's origin. */
  apis(upstream: string): string
  /**
   * How clients reach both proxies: `http` (the default), `tls` (HTTP/1.1 over TLS: wrk, which offers no ALPN) or
   * `h2` (HTTP/2 over TLS: bench/h2-load.ts). The floor is node:https or node:http2 with the same certificate.
   */
  transport?: 'http' | 'tls' | 'h2'
  /** Top-level config before `apis:` (a `throttling:` block), when the scenario needs some. */
  config?(): string
  /** Top-level `telemetry:` of the gateway's config, given the URL of a local OTLP receiver that accepts and discards. */
  telemetry?(collector: string): string
}

/**
 * An RS256 access token as an authorization server would issue it (WSO2's claims: `keytype`, `client_id`,
 * `scope`), signed once per run by a key made here; the gateway verifies it with the public key in its config.
 */
const JWT_BENCH = await (async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const now = Math.floor(Date.now() / 1000)
  const token = await new SignJWT({ client_id: 'bench-app', scope: 'orders:read', keytype: 'PRODUCTION' })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'bench' })
    .setIssuer('https://idp.bench')
    .setAudience('https://bench.example')
    .setSubject('bench-user')
    .setIssuedAt(now)
    .setExpirationTime(now + 86_400)
    .sign(privateKey)
  return { token, pem: (await exportSPKI(publicKey)).trim().replaceAll('\n', '\\n') }
})()

export const SMALL_BODY = 'x'.repeat(99) + '\n'

/** A SOAP 1.1 request of exactly 2 KiB: an Add call padded with a note. */
export const SOAP_2K = (() => {
  const head = '<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:c="http://example.com/calculator"><soapenv:Header/><soapenv:Body><c:Add><c:a>2</c:a><c:b>3</c:b><c:note>'
  const tail = '</c:note></c:Add></soapenv:Body></soapenv:Envelope>'
  return head + 'x'.repeat(2048 - head.length - tail.length) + tail
})()

const SOAP_HEADERS = { 'content-type': 'text/xml; charset=utf-8', soapaction: '"http://example.com/calculator/Add"' }

const soapApi = (upstream: string, soap: string) => `
  - name: Calculator
    context: /calc
    version: 1.0.0
    soap: ${soap}
    resources: [{ uriTemplate: /, methods: [POST] }]
    endpoints:
      production: { type: soap, url: "${upstream}/soap" }
`

const benchApi = (upstream: string) => `
  - name: Bench
    context: /bench
    version: 1.0.0
    resources: [{ uriTemplate: /small, methods: [GET] }]
    endpoints:
      production: { type: http, url: "${upstream}" }
`

/** `get-small` behind a per-application limit it never reaches: what counting every request costs. */
const rateLimitedGet = (name: string, redis: boolean): Scenario => ({
  name,
  description: `as get-small, behind a per-application limit never reached, counted ${redis ? 'in Redis (127.0.0.1:6379)' : 'in the process'}`,
  target: redis ? 1.6 : 1.35,
  method: 'GET',
  upstreamPath: '/small',
  porticoPath: '/limited/1.0.0/small',
  config: () => `throttling:
${redis ? `  redis: { url: "redis://127.0.0.1:6379", keyPrefix: "portico:bench:${process.pid}:" }\n` : ''}  policies: [{ name: per-app, key: application, limit: { requests: 1000000000, per: minute } }]
`,
  apis: (upstream) => `
  - name: Limited
    context: /limited
    version: 1.0.0
    throttling: { policies: [per-app] }
    resources: [{ uriTemplate: /small, methods: [GET] }]
    endpoints:
      production: { type: http, url: "${upstream}" }
`,
})

export const scenarios: Scenario[] = [
  {
    name: 'traced-get-small',
    description: 'get-small with every request traced (sampleRatio 1) and exported as OTLP/HTTP to a local receiver',
    target: 1.45,
    method: 'GET',
    upstreamPath: '/small',
    porticoPath: '/bench/1.0.0/small',
    apis: benchApi,
    telemetry: (collector) => `{ tracing: { endpoint: "${collector}", sampleRatio: 1 } }`,
  },
  {
    name: 'get-small',
    description: 'GET, 100-byte response, one API, one resource, one REST endpoint',
    target: 1.25,
    method: 'GET',
    upstreamPath: '/small',
    porticoPath: '/bench/1.0.0/small',
    apis: benchApi,
  },
  {
    name: 'tls-get-small',
    description: 'get-small over HTTPS (TLS 1.3, HTTP/1.1, keep-alive): the floor is node:https + undici',
    target: 1.25,
    method: 'GET',
    upstreamPath: '/small',
    porticoPath: '/bench/1.0.0/small',
    apis: benchApi,
    transport: 'tls',
  },
  {
    name: 'h2-get-small',
    description: 'get-small over HTTP/2 with TLS, streams multiplexed on a few connections: the floor is node:http2 + undici',
    target: 1.25,
    method: 'GET',
    upstreamPath: '/small',
    porticoPath: '/bench/1.0.0/small',
    apis: benchApi,
    transport: 'h2',
  },
  {
    name: 'jwt-get-small',
    description: 'as get-small, with a JWT bearer token (RS256, ~600 bytes) verified at the gateway: signature, iss, aud, exp, scope',
    target: 1.35,
    method: 'GET',
    headers: { authorization: `Bearer ${JWT_BENCH.token}` },
    upstreamPath: '/small',
    porticoPath: '/jwt/1.0.0/small',
    apis: (upstream) => `
  - name: Jwt
    context: /jwt
    version: 1.0.0
    security:
      oauth2:
        jwt: { issuer: "https://idp.bench", audience: "https://bench.example", keys: ["${JWT_BENCH.pem}"] }
    resources: [{ uriTemplate: /small, methods: [GET], scopes: ["orders:read"] }]
    endpoints:
      production: { type: http, url: "${upstream}" }
`,
  },
  {
    name: 'dynamic-header',
    description: 'GET, 100-byte response, the target chosen per request by a switch on a header (IN sequence + dynamic endpoint)',
    target: 1.5,
    method: 'GET',
    headers: { 'x-backend': 'small' },
    upstreamPath: '/small',
    porticoPath: '/dyn/1.0.0/small',
    apis: (upstream) => `
  - name: Dynamic
    context: /dyn
    version: 1.0.0
    resources: [{ uriTemplate: /small, methods: [GET] }]
    inSequence:
      - switch:
          source: { expression: "request.headers['x-backend']" }
          cases:
            - { regex: small, do: [ { setTarget: "${upstream}" } ] }
          default:
            - respond: { status: 400, body: "unknown X-Backend" }
    endpoints:
      production:
        type: dynamic
        allow: [ { host: 127.0.0.1, schemes: [http], ports: [${new URL(upstream).port}] } ]
`,
  },
  {
    name: 'post-2k',
    description: 'POST of the same 2 KiB body to a REST endpoint: what any POST costs, for comparison with soap-2k',
    target: 1.5,
    method: 'POST',
    headers: SOAP_HEADERS,
    body: SOAP_2K,
    upstreamPath: '/soap',
    porticoPath: '/rest/1.0.0/soap',
    apis: (upstream) => `
  - name: Rest
    context: /rest
    version: 1.0.0
    endpoints:
      production: { type: http, url: "${upstream}" }
`,
  },
  {
    name: 'soap-2k',
    description: 'POST of a 2 KiB SOAP 1.1 envelope to a soap endpoint, passed through unchanged',
    target: 1.5,
    method: 'POST',
    headers: SOAP_HEADERS,
    body: SOAP_2K,
    upstreamPath: '/soap',
    porticoPath: '/calc/1.0.0/',
    apis: (upstream) => soapApi(upstream, '{}'),
  },
  {
    name: 'soap-2k-validated',
    description: 'the same with soap.validate: the envelope is buffered and checked (well-formed, no DTD, Envelope/Body)',
    target: 1.75,
    method: 'POST',
    headers: SOAP_HEADERS,
    body: SOAP_2K,
    upstreamPath: '/soap',
    porticoPath: '/calc/1.0.0/',
    apis: (upstream) => soapApi(upstream, '{ validate: true }'),
  },
  rateLimitedGet('ratelimited-get-small', false),
  rateLimitedGet('ratelimited-get-small-redis', true),
]

/** Issue 19's body-size rows: counted by `npm run bench:instructions`, and run by `npm run bench` when named. */
export const instructionScenarios: Scenario[] = [
  {
    name: 'get-64k',
    description: 'GET, 64 KiB response, otherwise as get-small',
    target: 1.15,
    method: 'GET',
    upstreamPath: '/64k',
    porticoPath: '/bench/1.0.0/64k',
    apis: (upstream) => benchApi(upstream).replace('uriTemplate: /small', 'uriTemplate: /64k'),
  },
  {
    name: 'post-4k',
    description: 'POST of a 4 KiB body, 100-byte response',
    target: 1.3,
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: 'x'.repeat(4096),
    upstreamPath: '/small',
    porticoPath: '/bench/1.0.0/small',
    apis: (upstream) => benchApi(upstream).replace('methods: [GET]', 'methods: [POST]'),
  },
]
