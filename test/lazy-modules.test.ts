import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, test } from 'node:test'

const PROBE = fileURLToPath(new URL('./support/module-probe.ts', import.meta.url))

/** Starts a gateway from `yaml` in a fresh process (then reloads `next`) and returns the files it loaded. */
async function loadedBy(yaml: string, next?: string): Promise<{ started: string[]; reloaded: string[] }> {
  const { stdout } = await promisify(execFile)(process.execPath, [PROBE, yaml, ...(next ? [next] : [])], { timeout: 30_000 })
  return JSON.parse(stdout) as { started: string[]; reloaded: string[] }
}

const REST = `
apis:
  - name: orders
    context: /orders
    version: v1
    resources: [{ uriTemplate: "/{id}", methods: [GET] }]
    endpoints:
      production: { type: http, url: "http://127.0.0.1:9/orders" }
`

const SOAP_WITH_SEQUENCE = `
  - name: calc
    context: /calc
    version: v1
    soap: {}
    inSequence: [{ header: { name: x-calc, value: "1" } }]
    resources: [{ uriTemplate: /, methods: [POST] }]
    endpoints:
      production: { type: soap, url: "http://127.0.0.1:9/soap" }
`

/** What only SOAP, WSDL files, Lambda, prototypes, mediation, CORS, consumer auth, throttling policies (and Redis), tracing, backend capacity, security, REST-to-SOAP or a config the fast YAML path declines need: none of it for a plain REST API. */
const NOT_FOR_REST = [
  '/src/endpoints/soap.ts',
  '/src/endpoints/lambda.ts',
  '/src/endpoints/prototype.ts',
  '/src/soap/api-filter.ts',
  '/src/lambda/invoke.ts',
  '/src/prototype/script-sandbox.ts',
  '/src/mediation/run.ts',
  '/src/mediation/expression.ts',
  '/src/access/consumer-auth.ts',
  '/src/access/cors.ts',
  '/src/throttling/filter.ts',
  '/src/endpoints/capacity-guard.ts',
  '/src/endpoints/secured-endpoint.ts',
  '/src/endpoints/rest-bridge.ts',
  '/src/import/',
  '/src/soap/wsdl.ts',
  '/src/prototype/file-checks.ts',
  '/src/throttling/redis-counters.ts',
  '/src/telemetry/tracing.ts',
  '/node_modules/ioredis/',
  '/node_modules/@opentelemetry/sdk-trace-base/',
  '/node_modules/@opentelemetry/otlp-exporter-base/',
  '/node_modules/fast-xml-parser/',
  '/node_modules/yaml/',
  '/node_modules/@bufbuild/cel/',
  '/node_modules/@aws-sdk/',
  '/node_modules/@smithy/',
  '/node_modules/jose/',
  '/node_modules/ajv/',
  '/node_modules/@xmldom/xmldom/',
  '/node_modules/quickjs-emscripten/',
]

const THROTTLED_WITH_CORS = `
  - name: stock
    context: /stock
    version: v1
    cors: { origins: ["https://shop.example"] }
    throttling: { policies: [gold] }
    resources: [{ uriTemplate: /, methods: [GET] }]
    endpoints:
      production: { type: http, url: "http://127.0.0.1:9/stock", capacity: { maxConcurrent: 10 } }
throttling:
  policies: [{ name: gold, limit: { requests: 100, per: minute } }]
`

const loadedAny = (files: string[], part: string) => files.some((file) => file.includes(part))

describe('a config loads only the modules it uses', () => {
  test('a gateway of one REST API loads no SOAP, WSDL, Lambda, prototype, mediation, CORS, consumer-auth, throttling, Redis, tracing, capacity, import or full-YAML module', async () => {
    const { started } = await loadedBy(REST)
    assert.ok(loadedAny(started, '/src/endpoints/http.ts'), 'the http endpoint type is loaded')
    assert.deepEqual(NOT_FOR_REST.filter((part) => loadedAny(started, part)), [])
  })

  test('JSON logs (the default) do not load pino-pretty', async () => {
    const { started } = await loadedBy(REST)
    assert.ok(loadedAny(started, '/src/telemetry/log-format.ts'), 'the log format module is loaded')
    assert.deepEqual(['/src/telemetry/pretty-logs.ts', '/node_modules/pino-pretty/'].filter((part) => loadedAny(started, part)), [])
  })

  test('a reload that adds a SOAP API with an IN sequence loads the SOAP endpoint, its API filter and mediation then', async () => {
    const { started, reloaded } = await loadedBy(REST, REST + SOAP_WITH_SEQUENCE)
    for (const part of ['/src/endpoints/soap.ts', '/src/soap/api-filter.ts', '/src/mediation/run.ts']) {
      assert.ok(!loadedAny(started, part), `${part} is not loaded at start`)
      assert.ok(loadedAny(reloaded, part), `${part} is loaded by the reload`)
    }
  })

  test('a reload that adds a throttled API with CORS and backend capacity loads the throttling filter, CORS and the capacity guard then', async () => {
    const { started, reloaded } = await loadedBy(REST, REST + THROTTLED_WITH_CORS)
    for (const part of ['/src/throttling/filter.ts', '/src/access/cors.ts', '/src/endpoints/capacity-guard.ts']) {
      assert.ok(!loadedAny(started, part), `${part} is not loaded at start`)
      assert.ok(loadedAny(reloaded, part), `${part} is loaded by the reload`)
    }
  })
})
