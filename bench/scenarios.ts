// What `npm run bench` measures. Each scenario is one request shape sent through Portico and, for reference,
// through the Node floor (bench/floor.ts) to the same nginx location in the same run.

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
  /** Top-level `telemetry:` of the gateway's config, given the URL of a local OTLP receiver that accepts and discards. */
  telemetry?(collector: string): string
}

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

const getSmallApi = (upstream: string) => `
  - name: Bench
    context: /bench
    version: 1.0.0
    resources: [{ uriTemplate: /small, methods: [GET] }]
    endpoints:
      production: { type: http, url: "${upstream}" }
`

export const scenarios: Scenario[] = [
  {
    name: 'traced-get-small',
    description: 'get-small with every request traced (sampleRatio 1) and exported as OTLP/HTTP to a local receiver',
    target: 1.45,
    method: 'GET',
    upstreamPath: '/small',
    porticoPath: '/bench/1.0.0/small',
    apis: getSmallApi,
    telemetry: (collector) => `{ tracing: { endpoint: "${collector}", sampleRatio: 1 } }`,
  },
  {
    name: 'get-small',
    description: 'GET, 100-byte response, one API, one resource, one REST endpoint',
    target: 1.25,
    method: 'GET',
    upstreamPath: '/small',
    porticoPath: '/bench/1.0.0/small',
    apis: getSmallApi,
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
]
