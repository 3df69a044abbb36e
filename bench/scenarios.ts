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
}

export const SMALL_BODY = 'x'.repeat(99) + '\n'

export const scenarios: Scenario[] = [
  {
    name: 'get-small',
    description: 'GET, 100-byte response, one API, one resource, one REST endpoint',
    target: 1.25,
    method: 'GET',
    upstreamPath: '/small',
    porticoPath: '/bench/1.0.0/small',
    apis: (upstream) => `
  - name: Bench
    context: /bench
    version: 1.0.0
    resources: [{ uriTemplate: /small, methods: [GET] }]
    endpoints:
      production: { type: http, url: "${upstream}" }
`,
  },
]
