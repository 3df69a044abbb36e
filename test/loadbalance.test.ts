import assert from 'node:assert/strict'
import { afterEach, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { apiWith, closedPort, Fleet, SwitchableBackend, waitFor } from './support/switchable-backend.ts'

let gateway: TestGateway | undefined
const backends = new Fleet()

afterEach(async () => {
  await gateway?.close()
  gateway = undefined
  await backends.stop()
})

async function call(headers: Record<string, string> = {}): Promise<{ status: number; text: string; setCookie: string | undefined }> {
  const response = await request(`${gateway!.url}/t/v1/x`, { headers, headersTimeout: 5000, bodyTimeout: 5000 })
  const cookie = response.headers['set-cookie']
  return { status: response.statusCode, text: await response.body.text(), setCookie: Array.isArray(cookie) ? cookie[0] : cookie }
}

async function texts(count: number, headers: Record<string, string> = {}): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < count; i++) out.push((await call(headers)).text)
  return out
}

const group = (fields: string, names: SwitchableBackend[]) =>
  apiWith(`{ type: loadbalance, ${fields ? `${fields}, ` : ''}endpoints: [${names.map((b) => `{ type: http, name: ${b.name}, url: "${b.url}" }`).join(', ')}] }`)

describe('load-balance group', () => {
  test('round robin takes each endpoint in turn', async () => {
    const all = await backends.start('a', 'b', 'c')
    gateway = await startGateway(group('', all))
    assert.deepEqual(await texts(7), ['a', 'b', 'c', 'a', 'b', 'c', 'a'])
  })

  test('weighted round robin is smooth: weights 5,1,1 give a a b a c a a', async () => {
    const all = await backends.start('a', 'b', 'c')
    gateway = await startGateway(group('algorithm: weightedRoundRobin, weights: [5, 1, 1]', all))
    assert.deepEqual(await texts(14), ['a', 'a', 'b', 'a', 'c', 'a', 'a', 'a', 'a', 'b', 'a', 'c', 'a', 'a'])
  })

  test('least connections avoids the endpoint with a request in flight', async () => {
    const [a, b, c] = await backends.start('a', 'b', 'c')
    gateway = await startGateway(group('algorithm: leastConnections', [a!, b!, c!]))
    a!.mode = 'stall'
    const held = call()
    await waitFor(() => a!.received.length === 1, 2000, 'the held request')
    const answers = await texts(6)
    assert.deepEqual([...answers].sort(), ['b', 'b', 'b', 'c', 'c', 'c'], `the busy a is never chosen, the idle b and c alternate: ${answers}`)
    assert.notEqual(answers[0], answers[1])
    a!.release()
    assert.equal((await held).text, 'a:late')
    a!.mode = 'ok'
    assert.deepEqual((await texts(3)).sort(), ['a', 'b', 'c'], 'once the request ended a is as free as the others')
  })

  test('power of two choices picks the less loaded of two', async () => {
    const [a, b] = await backends.start('a', 'b')
    gateway = await startGateway(group('algorithm: powerOfTwoChoices', [a!, b!]))
    const first = await texts(40)
    assert.ok(first.includes('a') && first.includes('b'), 'idle endpoints are both chosen')
    b!.mode = 'stall'
    const held: Promise<unknown>[] = []
    const before = b!.received.length
    while (b!.received.length === before) {
      held.push(call())
      await sleep(20)
    }
    // With two endpoints both are always the two choices: the loaded one never wins.
    assert.deepEqual(new Set(await texts(20)), new Set(['a']))
    b!.release()
    await Promise.all(held)
  })

  test('a failed attempt goes to another endpoint: no client error while one is alive', async () => {
    const [a, b, c] = await backends.start('a', 'b', 'c')
    gateway = await startGateway(group('', [a!, b!, c!]))
    await b!.stop()
    const answers = await texts(6)
    assert.deepEqual(answers, ['a', 'c', 'a', 'c', 'a', 'c'])
    await b!.restart()
  })

  test('a killed endpoint is taken out at its first failure and back in rotation within one health-check interval of its restart', async () => {
    const [a, b, c] = await backends.start('a', 'b', 'c')
    const leaves = [a!, b!, c!].map(
      (backend) => `{ type: http, name: ${backend.name}, url: "${backend.url}", suspendOnFailure: { initialDuration: 1h }, healthCheck: { path: /health, interval: 100ms } }`,
    )
    gateway = await startGateway(apiWith(`{ type: loadbalance, endpoints: [${leaves.join(', ')}] }`))
    await b!.stop()
    const during = await texts(6)
    assert.ok(!during.includes('b'), `${during}`)
    const status = () => JSON.stringify(gateway!.instance.gateway.snapshot.roots[0]!.describe())
    assert.match(status(), /"id":"b","type":"http","state":"suspended"/)
    await b!.restart()
    const restarted = performance.now()
    await waitFor(() => /"id":"b","type":"http","state":"active"/.test(status()), 1000, 'b back in rotation')
    const back = performance.now() - restarted
    assert.ok(back <= 350, `back ${Math.round(back)} ms after the restart: one 100 ms interval plus the probe, with room for a busy machine`)
    assert.deepEqual((await texts(3)).sort(), ['a', 'b', 'c'])
  })

  test('failover: false gives the client the failure of the one endpoint tried', async () => {
    const [a] = await backends.start('a')
    const port = await closedPort()
    gateway = await startGateway(apiWith(`{ type: loadbalance, failover: false, endpoints: [{ type: http, name: gone, url: "http://127.0.0.1:${port}" }, { type: http, name: a, url: "${a!.url}" }] }`))
    const response = await call()
    assert.equal(response.status, 502)
    assert.match(response.text, /BACKEND_UNREACHABLE/)
    assert.equal((await call()).text, 'a')
  })

  test('sticky cookie: the gateway sets a cookie that brings the client back to the same endpoint', async () => {
    const [a, b, c] = await backends.start('a', 'b', 'c')
    gateway = await startGateway(group('session: { type: cookie, timeout: 10m }', [a!, b!, c!]))
    const first = await call()
    assert.equal(first.text, 'a')
    assert.match(first.setCookie ?? '', /^PORTICO_STICKY=[\w-]+; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax$/)
    const cookie = first.setCookie!.split(';')[0]!
    assert.equal((await call()).text, 'b', 'without the cookie, round robin')
    for (let i = 0; i < 5; i++) {
      const again = await call({ cookie: `other=1; ${cookie}` })
      assert.equal(again.text, 'a')
      assert.equal(again.setCookie, undefined, 'the cookie is set only when it changes')
    }
    await a!.stop()
    const moved = await call({ cookie })
    assert.notEqual(moved.text, 'a')
    assert.ok(moved.setCookie && !moved.setCookie.startsWith(cookie), 'rebound to the endpoint that served it')
    await a!.restart()
  })

  test('sticky header and client session: one session, one endpoint, until the session times out', async () => {
    const [a, b] = await backends.start('a', 'b')
    gateway = await startGateway(`
apis:
  - name: t
    context: /t
    version: v1
    endpoints:
      production: { type: loadbalance, session: { type: header, name: X-Session, timeout: 150ms }, endpoints: [{ type: http, name: a, url: "${a!.url}" }, { type: http, name: b, url: "${b!.url}" }] }
  - name: c
    context: /c
    version: v1
    endpoints:
      production: { type: loadbalance, session: { type: clientSession }, endpoints: [{ type: http, name: a2, url: "${a!.url}" }, { type: http, name: b2, url: "${b!.url}" }] }
`)
    assert.equal((await call({ 'x-session': 's1' })).text, 'a')
    assert.equal((await call({ 'x-session': 's2' })).text, 'b')
    assert.deepEqual(await texts(4, { 'x-session': 's1' }), ['a', 'a', 'a', 'a'])
    assert.deepEqual(await texts(4, { 'x-session': 's2' }), ['b', 'b', 'b', 'b'])
    await sleep(200)
    assert.equal((await call({ 'x-session': 's2' })).text, 'a', 'an expired session is balanced afresh (round robin turn: a)')

    const client = async (id: string) => (await (await request(`${gateway!.url}/c/v1/x`, { headers: { clientID: id }, headersTimeout: 5000 })).body.text())
    const first = await client('alice')
    assert.deepEqual([await client('alice'), await client('alice'), await client('alice')], [first, first, first])
    assert.notEqual(await client('bob'), first)
  })

  test('bad group config names the field and the problem', async () => {
    const { parseConfig, ConfigError } = await import('../src/config/load.ts')
    const problems = (yaml: string) => {
      try {
        parseConfig(yaml, 'bad.yaml')
        return ''
      } catch (error) {
        assert.ok(error instanceof ConfigError)
        return error.message
      }
    }
    assert.match(
      problems(apiWith('{ type: loadbalance, algorithm: weightedRoundRobin, endpoints: [{ type: http, url: "http://x" }] }')),
      /apis\[0\]\.endpoints\.production\.weights: is required by weightedRoundRobin/,
    )
    assert.match(
      problems(apiWith('{ type: loadbalance, algorithm: weightedRoundRobin, weights: [1, 2], endpoints: [{ type: http, url: "http://x" }] }')),
      /weights: has 2 weights for 1 endpoints/,
    )
    assert.match(problems(apiWith('{ type: failover, endpoints: [] }')), /production\.endpoints: must list at least one endpoint/)
    assert.match(
      problems(apiWith('{ type: failover, endpoints: [{ type: http, url: "http://x", suspendOnFailure: { errorCodes: [101599] } }] }')),
      /endpoints\[0\]\.suspendOnFailure\.errorCodes\[0\]: .*101599 is not a known WSO2 error code/,
    )
    assert.match(problems(apiWith('{ type: failover, endpoints: [{ type: http, urll: "http://x" }] }')), /production\.endpoints\[0\]/)
    assert.match(problems(apiWith('{ type: loadbalance, session: { type: header }, endpoints: [{ type: http, url: "http://x" }] }')), /session\.name: is required for a header session/)
    assert.match(
      problems(`
apis:
  - name: t
    context: /t
    version: v1
    resources: [{ uriTemplate: /a }]
    endpoints:
      production: { type: failover, endpoints: [{ type: http, url: "http://x/{id}" }] }
`),
      /uses \{id\}, which resource "\/a"/,
    )
  })
})
