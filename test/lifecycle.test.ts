import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { canTransition, LIFECYCLE_STATES, type LifecycleState } from '../src/config/lifecycle.ts'
import { checkTransitions } from '../src/config/lifecycle-check.ts'
import { parseConfig } from '../src/config/load.ts'
import { startEchoBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { gatewayInFront } from './support/in-front.ts'

/** What a client of an API in each state gets through its production endpoint. */
const EXPECTED: Record<LifecycleState, { status: number; code?: string }> = {
  CREATED: { status: 404, code: 'API_NOT_PUBLISHED' },
  PROTOTYPED: { status: 404, code: 'API_NOT_PUBLISHED' },
  PUBLISHED: { status: 200 },
  DEPRECATED: { status: 200 },
  BLOCKED: { status: 503, code: 'API_BLOCKED' },
  RETIRED: { status: 404, code: 'API_RETIRED' },
}

/** One API in each lifecycle state, and a DEPRECATED one with a sunset, all in front of `backendUrl`. */
const everyState = (backendUrl: string) => `apis:${LIFECYCLE_STATES.map(
  (state) => `
  - name: ${state.toLowerCase()}
    context: /${state.toLowerCase()}
    version: v1
    lifecycle: ${state}
    endpoints:
      production: { type: http, url: "${backendUrl}" }`,
).join('')}
  - name: sunsetting
    context: /sunsetting
    version: v1
    lifecycle: DEPRECATED
    deprecation: { since: "2026-01-01T00:00:00Z", sunset: "2027-01-01T00:00:00Z", link: "https://example.com/migrate" }
    endpoints:
      production: { type: http, url: "${backendUrl}" }
`

describe('lifecycle', () => {
  const states = gatewayInFront(everyState)

  for (const state of LIFECYCLE_STATES) {
    test(`a ${state} API answers ${EXPECTED[state].status}${EXPECTED[state].code ? ` ${EXPECTED[state].code}` : ''} through its production endpoint`, async () => {
      const { backend, gateway } = states
      const before = backend.requests.length
      const response = await request(`${gateway.url}/${state.toLowerCase()}/v1/anything`)
      const body = await response.body.text()
      assert.equal(response.statusCode, EXPECTED[state].status)
      if (EXPECTED[state].code) {
        assert.equal(JSON.parse(body).code, EXPECTED[state].code)
        assert.equal(backend.requests.length, before, 'the backend must not be called')
      } else assert.equal(backend.requests.length, before + 1)
    })
  }

  test('a DEPRECATED API adds Deprecation (RFC 9745), Sunset (RFC 8594) and a deprecation Link', async () => {
    const { gateway } = states
    const response = await request(`${gateway.url}/sunsetting/v1/x`)
    await response.body.text()
    assert.equal(response.headers.deprecation, `@${Date.parse('2026-01-01T00:00:00Z') / 1000}`)
    assert.equal(response.headers.sunset, 'Fri, 01 Jan 2027 00:00:00 GMT')
    assert.equal(response.headers.link, '<https://example.com/migrate>; rel="deprecation"')
    const plain = await request(`${gateway.url}/deprecated/v1/x`)
    await plain.body.text()
    assert.match(String(plain.headers.deprecation), /^@\d+$/)
    assert.equal(plain.headers.sunset, undefined)
  })

  test('the transitions are those of WSO2: RETIRED is final, DEPRECATED only retires, BLOCKED can be re-published', () => {
    assert.ok(canTransition('CREATED', 'PROTOTYPED'))
    assert.ok(canTransition('PROTOTYPED', 'PUBLISHED'))
    assert.ok(canTransition('PUBLISHED', 'BLOCKED'))
    assert.ok(canTransition('BLOCKED', 'PUBLISHED'))
    assert.ok(canTransition('PUBLISHED', 'DEPRECATED'))
    assert.ok(canTransition('DEPRECATED', 'RETIRED'))
    assert.ok(!canTransition('RETIRED', 'PUBLISHED'))
    assert.ok(!canTransition('DEPRECATED', 'PUBLISHED'))
    assert.ok(!canTransition('CREATED', 'DEPRECATED'))
    assert.ok(!canTransition('CREATED', 'RETIRED'))
  })

  test('a reload that moves an API along a forbidden transition is refused, naming the field and the allowed states', async () => {
    const { gateway } = states
    const config = (state: string) => parseConfig(`apis: [{ name: a, context: /a, version: v1, lifecycle: ${state}, endpoints: { production: { type: http, url: "http://127.0.0.1:9" } } }]`, 'p.yaml')
    assert.deepEqual(checkTransitions(config('DEPRECATED'), config('RETIRED')), [])
    const issues = checkTransitions(config('RETIRED'), config('PUBLISHED'), 'p.yaml')
    assert.equal(issues.length, 1)
    assert.equal(issues[0]!.path, 'apis[0].lifecycle')
    assert.match(issues[0]!.message, /cannot change from RETIRED to PUBLISHED/)
    await assert.rejects(() => gateway.instance.gateway.reload({ ...gateway.instance.gateway.snapshot.config, apis: gateway.instance.gateway.snapshot.config.apis.map((api) => ({ ...api, lifecycle: 'PUBLISHED' as const })) }), /retired: cannot|cannot change from RETIRED/)
  })
})

describe('environments', () => {
  let production: TestBackend
  let sandbox: TestBackend
  let gateway: TestGateway

  before(async () => {
    production = await startEchoBackend('production')
    sandbox = await startEchoBackend('sandbox')
    gateway = await startGateway(`
listeners:
  - { name: main, host: 127.0.0.1, port: 0 }
  - { name: sandbox, host: 127.0.0.1, port: 0, environment: sandbox }
  - { name: locked, host: 127.0.0.1, port: 0, environmentHeader: false }
apis:
  - name: both
    context: /both
    version: v1
    endpoints:
      production: { type: http, url: "${production.url}" }
      sandbox: { type: http, url: "${sandbox.url}" }
  - name: live-only
    context: /live
    version: v1
    endpoints:
      production: { type: http, url: "${production.url}" }
`)
  })
  after(async () => {
    await gateway.close()
    await production.close()
    await sandbox.close()
  })

  async function backendOf(url: string, headers: Record<string, string> = {}) {
    const response = await request(url, { headers })
    const body = (await response.body.json()) as { backend?: string; code?: string; headers?: Record<string, string> }
    return { status: response.statusCode, ...body }
  }

  test('production by default; X-Portico-Environment: sandbox reaches the sandbox endpoint and is not forwarded', async () => {
    assert.equal((await backendOf(`${gateway.listeners.main}/both/v1/x`)).backend, 'production')
    const viaHeader = await backendOf(`${gateway.listeners.main}/both/v1/x`, { 'x-portico-environment': 'sandbox' })
    assert.equal(viaHeader.backend, 'sandbox')
    assert.equal(viaHeader.headers?.['x-portico-environment'], undefined)
  })

  test('a sandbox listener sends every request to the sandbox endpoint', async () => {
    assert.equal((await backendOf(`${gateway.listeners.sandbox}/both/v1/x`)).backend, 'sandbox')
  })

  test('a listener with environmentHeader: false ignores the header', async () => {
    assert.equal((await backendOf(`${gateway.listeners.locked}/both/v1/x`, { 'x-portico-environment': 'sandbox' })).backend, 'production')
  })

  test('an API without a sandbox endpoint refuses sandbox calls with ENVIRONMENT_NOT_CONFIGURED', async () => {
    const refused = await backendOf(`${gateway.listeners.sandbox}/live/v1/x`)
    assert.equal(refused.status, 404)
    assert.equal(refused.code, 'ENVIRONMENT_NOT_CONFIGURED')
  })

  test('an unknown environment name is a 400', async () => {
    const refused = await backendOf(`${gateway.listeners.main}/both/v1/x`, { 'x-portico-environment': 'staging' })
    assert.equal(refused.status, 400)
    assert.equal(refused.code, 'BAD_REQUEST')
  })
})
