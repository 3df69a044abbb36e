import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterEach, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import type { EndpointStatus } from '../src/core/endpoint.ts'
import type { StateChange } from '../src/resilience/state-events.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { apiWith, closedPort, Fleet, SwitchableBackend, waitFor } from './support/switchable-backend.ts'

let gateway: TestGateway | undefined
const backends = new Fleet()

afterEach(async () => {
  await gateway?.close()
  gateway = undefined
  await backends.stop()
})

async function call(method: string, body?: Buffer | string): Promise<{ status: number; text: string; json: () => { code: string; message: string } }> {
  const response = await request(`${gateway!.url}/t/v1/x`, { method: method as 'GET', body, headersTimeout: 5000, bodyTimeout: 5000 })
  const text = await response.body.text()
  return { status: response.statusCode, text, json: () => JSON.parse(text) as { code: string; message: string } }
}

/** The status of the leaf with `id` in the gateway's endpoint tree. */
function leaf(id: string): EndpointStatus {
  const find = (status: EndpointStatus): EndpointStatus | undefined =>
    status.id === id ? status : status.children?.map(find).find((found) => found !== undefined)
  for (const root of gateway!.instance.gateway.snapshot.roots) {
    const found = find(root.describe())
    if (found) return found
  }
  throw new Error(`no endpoint ${id}`)
}

const leafYaml = (backend: SwitchableBackend, extra = '') => `{ type: http, name: ${backend.name}, url: "${backend.url}"${extra ? `, ${extra}` : ''} }`

describe('failover group', () => {
  test('while one endpoint is alive the client sees no error, and the next one after a failed one takes over', async () => {
    const [a, b, c] = await backends.start('a', 'b', 'c')
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(a!)}, ${leafYaml(b!)}, ${leafYaml(c!)}] }`))
    assert.equal((await call('GET')).text, 'a')
    await a!.stop()
    for (let i = 0; i < 5; i++) assert.equal((await call('GET')).text, 'b')
    await b!.stop()
    for (let i = 0; i < 5; i++) assert.equal((await call('GET')).text, 'c')
    assert.deepEqual(a!.log.map((entry) => entry.backend), ['a', 'b', 'b', 'b', 'b', 'b', 'c', 'c', 'c', 'c', 'c'])
    assert.equal(leaf('a').state, 'suspended')
    assert.equal(leaf('b').state, 'suspended')
  })

  test('when every endpoint fails the client gets 503 listing each endpoint and how it failed', async () => {
    const [a, b] = await backends.start('a', 'b')
    a!.mode = 'fail-503'
    const refused = await closedPort()
    gateway = await startGateway(
      apiWith(`{ type: failover, endpoints: [${leafYaml(a!, 'failureStatuses: [503]')}, { type: http, name: gone, url: "http://127.0.0.1:${refused}" }, ${leafYaml(b!, 'timeouts: { response: 100ms }')}] }`),
    )
    b!.mode = 'stall'
    const response = await call('GET')
    assert.equal(response.status, 503)
    const body = response.json()
    assert.equal(body.code, 'ENDPOINT_UNAVAILABLE')
    assert.match(body.message, /all 3 attempts failed; tried a \(status 503\), gone \(connect-refused\), b \(read-timeout\)/)
    assert.doesNotMatch(response.text, /at .*\.ts:\d+/, 'no stack trace')
    // Now all are suspended: refused at once, without touching a backend.
    const again = await call('GET')
    assert.equal(again.status, 503)
    assert.match(again.json().message, /no endpoint is ready \(a suspended, gone suspended, b suspended\)/)
    assert.equal(a!.received.length, 1)
  })

  test('suspension grows by progressionFactor up to maximumDuration, and one trial request decides', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'fail-503'
    const suspension = 'failureStatuses: [503], suspendOnFailure: { initialDuration: 150ms, progressionFactor: 2, maximumDuration: 400ms }'
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(primary!, suspension)}, ${leafYaml(backup!)}] }`))

    assert.equal((await call('GET')).text, 'backup')
    assert.equal(primary!.received.length, 1)
    assert.equal(leaf('primary').state, 'suspended')
    assert.equal(leaf('primary')['suspendedForMs'], 150)
    assert.equal((await call('GET')).text, 'backup')
    assert.equal(primary!.received.length, 1, 'a suspended leaf gets no traffic')

    await sleep(170)
    assert.equal((await call('GET')).text, 'backup')
    assert.equal(primary!.received.length, 2, 'after the suspension one trial request goes to the primary')
    assert.equal(leaf('primary')['suspendedForMs'], 300, 'the failed trial doubles the suspension')
    await sleep(170)
    await call('GET')
    assert.equal(primary!.received.length, 2, 'still suspended: 300 ms had not passed')
    await sleep(150)
    await call('GET')
    assert.equal(primary!.received.length, 3)
    assert.equal(leaf('primary')['suspendedForMs'], 400, 'capped by maximumDuration')

    primary!.mode = 'ok'
    await sleep(420)
    assert.equal((await call('GET')).text, 'primary', 'the successful trial makes it active again')
    assert.equal(leaf('primary').state, 'active')
    assert.equal((await call('GET')).text, 'primary')
    assert.equal(leaf('primary')['suspensions'], 3)
  })

  test('only one trial request is in flight after a suspension ends; the others go elsewhere', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'fail-503'
    gateway = await startGateway(
      apiWith(`{ type: failover, endpoints: [${leafYaml(primary!, 'failureStatuses: [503], suspendOnFailure: { initialDuration: 100ms }')}, ${leafYaml(backup!)}] }`),
    )
    await call('GET')
    await sleep(120)
    primary!.mode = 'stall'
    const trial = call('GET')
    await waitFor(() => primary!.received.length === 2, 2000, 'the trial request')
    const others = await Promise.all([call('GET'), call('GET'), call('GET')])
    assert.deepEqual(others.map((response) => response.text), ['backup', 'backup', 'backup'])
    assert.equal(primary!.received.length, 2)
    primary!.release()
    assert.equal((await trial).text, 'primary:late')
    assert.equal(leaf('primary').state, 'active')
  })

  test('a slow backend within its response timeout is waited for, not failed over', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'slow'
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(primary!, 'timeouts: { response: 3s }')}, ${leafYaml(backup!)}] }`))
    const answers = await Promise.all([call('GET'), call('GET'), call('POST', 'x')])
    assert.deepEqual(answers.map((answer) => answer.text), ['primary', 'primary', 'primary'])
    assert.equal(backup!.received.length, 0)
    assert.equal(leaf('primary').state, 'active')
  })

  test('a backend that never answers is given up on when its response timeout is over, not up to half a second later', async () => {
    const [hung, backup] = await backends.start('hung', 'backup')
    hung!.mode = 'stall'
    const timeout = 400
    // Suspension off, so that every request waits on the hung leaf first.
    const settings = `timeouts: { response: ${timeout}ms }, suspendOnFailure: { initialDuration: 0, maximumDuration: 0 }`
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(hung!, settings)}, ${leafYaml(backup!)}] }`))
    assert.equal((await call('GET')).text, 'backup', 'warm-up')
    // Requests started at different moments: a timer that fires only on a coarse tick is late by up to its tick for some of them.
    const timed = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        await sleep(i * 70)
        const started = performance.now()
        const answer = await call('GET')
        return { text: answer.text, elapsed: performance.now() - started }
      }),
    )
    assert.deepEqual(timed.map((answer) => answer.text), Array(8).fill('backup'))
    assert.equal(hung!.received.length, 9)
    const elapsed = timed.map((answer) => Math.round(answer.elapsed))
    assert.ok(Math.min(...elapsed) >= timeout - 5, `each request waited for the timeout: ${elapsed.join(', ')} ms`)
    assert.ok(Math.max(...elapsed) < timeout + 200, `each request answered within ${timeout} ms + 200 ms: ${elapsed.join(', ')} ms`)
  })

  test('a lone suspended leaf answers 503 at once, without calling its backend, until its trial', async () => {
    const [only] = await backends.start('only')
    only!.mode = 'fail-503'
    gateway = await startGateway(apiWith(leafYaml(only!, 'failureStatuses: [503], suspendOnFailure: { initialDuration: 100ms }')))
    const first = await call('GET')
    assert.equal(first.status, 502)
    assert.equal(first.json().code, 'BACKEND_ERROR')
    const second = await call('GET')
    assert.equal(second.status, 503)
    assert.equal(second.json().code, 'ENDPOINT_UNAVAILABLE')
    assert.equal(only!.received.length, 1)
    only!.mode = 'ok'
    await sleep(120)
    assert.equal((await call('GET')).text, 'only')
  })

  test('a lone leaf without suspendOnFailure is never suspended; the same leaf in a group is, for WSO2\'s 30 s', async () => {
    const [only, backup] = await backends.start('only', 'backup')
    only!.mode = 'fail-503'
    gateway = await startGateway(apiWith(leafYaml(only!, 'failureStatuses: [503]')))
    assert.equal((await call('GET')).status, 502)
    only!.mode = 'ok'
    assert.equal((await call('GET')).text, 'only', 'the next request reaches the backend at once')
    assert.equal(leaf('only').state, 'active')
    await gateway.close()

    only!.mode = 'fail-503'
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(only!, 'failureStatuses: [503]')}, ${leafYaml(backup!)}] }`))
    assert.equal((await call('GET')).text, 'backup')
    assert.equal(leaf('only').state, 'suspended')
    assert.equal(leaf('only').suspendedForMs, 30_000)
  })

  test('markForSuspension: listed failures move the leaf to timeout, and it is suspended when its retries run out', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'stall'
    const settings = 'timeouts: { response: 80ms }, markForSuspension: { errorCodes: [101504], retriesBeforeSuspension: 2 }, suspendOnFailure: { initialDuration: 10s }'
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(primary!, settings)}, ${leafYaml(backup!)}] }`))
    assert.equal((await call('GET')).text, 'backup')
    assert.equal(leaf('primary').state, 'timeout')
    assert.equal((await call('GET')).text, 'backup')
    assert.equal(leaf('primary').state, 'timeout')
    assert.equal((await call('GET')).text, 'backup')
    assert.equal(leaf('primary').state, 'suspended', 'the third read timeout (two retries) suspends it')
    assert.equal(primary!.received.length, 3)
    await call('GET')
    assert.equal(primary!.received.length, 3)
  })

  test('both durations 0 turn suspension off: a failing leaf is tried on every request', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'fail-503'
    const settings = 'failureStatuses: [503], suspendOnFailure: { initialDuration: 0, maximumDuration: 0 }'
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(primary!, settings)}, ${leafYaml(backup!)}] }`))
    for (let i = 0; i < 3; i++) assert.equal((await call('GET')).text, 'backup')
    assert.equal(primary!.received.length, 3)
    assert.equal(leaf('primary').state, 'active')
  })

  test('returnToPrimary: traffic goes back to a recovered primary; with false it stays where it works', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    const settings = 'suspendOnFailure: { initialDuration: 100ms }'
    gateway = await startGateway(`
apis:
  - name: t
    context: /t
    version: v1
    endpoints:
      production: { type: failover, endpoints: [${leafYaml(primary!, settings)}, ${leafYaml(backup!)}] }
  - name: sticky
    context: /sticky
    version: v1
    endpoints:
      production: { type: failover, returnToPrimary: false, endpoints: [{ type: http, name: p2, url: "${primary!.url}", suspendOnFailure: { initialDuration: 100ms } }, { type: http, name: b2, url: "${backup!.url}" }] }
`)
    const callSticky = async () => (await (await request(`${gateway!.url}/sticky/v1/x`, { headersTimeout: 5000 })).body.text())
    await primary!.stop()
    assert.equal((await call('GET')).text, 'backup')
    assert.equal(await callSticky(), 'backup')
    await primary!.restart()
    await sleep(150)
    assert.equal((await call('GET')).text, 'primary', 'back to the primary once its suspension ended')
    assert.equal((await call('GET')).text, 'primary')
    assert.equal(await callSticky(), 'backup', 'returnToPrimary: false stays on the endpoint that worked')
    assert.equal(await callSticky(), 'backup')
  })

  test('a health check takes a failing leaf out before clients hit it, and brings it back', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    const check = 'healthCheck: { path: /health, interval: 40ms, timeout: 200ms, unhealthyThreshold: 2, healthyThreshold: 2 }'
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(primary!, check)}, ${leafYaml(backup!)}] }`))
    assert.equal((await call('GET')).text, 'primary')
    primary!.healthy = false
    await waitFor(() => leaf('primary').state === 'unhealthy', 2000, 'the primary marked unhealthy')
    for (let i = 0; i < 3; i++) assert.equal((await call('GET')).text, 'backup')
    assert.equal(primary!.received.length, 1, 'no client request was sacrificed to find out')
    primary!.healthy = true
    const since = primary!.healthChecks
    await waitFor(() => leaf('primary').state === 'active', 2000, 'the primary back')
    assert.ok(primary!.healthChecks - since >= 2, 'healthyThreshold passing checks bring it back')
    assert.equal((await call('GET')).text, 'primary')
  })

  test('a leaf suspended by failed requests returns as soon as a health check passes', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'fail-503'
    const settings = 'failureStatuses: [503], suspendOnFailure: { initialDuration: 1h }, healthCheck: { path: /health, interval: 60ms, healthyThreshold: 3 }'
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(primary!, settings)}, ${leafYaml(backup!)}] }`))
    assert.equal((await call('GET')).text, 'backup')
    assert.equal(leaf('primary').state, 'suspended')
    primary!.mode = 'ok'
    const since = primary!.healthChecks
    await waitFor(() => leaf('primary').state === 'active', 1000, 'the health check to end the suspension')
    assert.equal(primary!.healthChecks - since, 1, 'one passing check is enough to end a suspension')
    assert.equal((await call('GET')).text, 'primary')
  })

  test('a check that times out says so; a leaf both suspended and unhealthy comes back in one state change', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'fail-503'
    const settings = 'failureStatuses: [503], suspendOnFailure: { initialDuration: 1h }, healthCheck: { path: /health, interval: 60ms, timeout: 100ms }'
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(primary!, settings)}, ${leafYaml(backup!)}] }`))
    const changes: StateChange[] = []
    const listener = (message: unknown) => changes.push(message as StateChange)
    subscribe('portico:endpoint:state', listener)
    try {
      primary!.stallHealthChecks = true
      assert.equal((await call('GET')).text, 'backup')
      await waitFor(() => leaf('primary').state === 'unhealthy', 2000, 'the stalled check to mark the primary unhealthy')
      assert.equal((leaf('primary') as unknown as { healthCheck: { last: string } }).healthCheck.last, 'no answer within 100 ms')
      primary!.mode = 'ok'
      primary!.stallHealthChecks = false
      await waitFor(() => leaf('primary').state === 'active', 2000, 'the primary back')
    } finally {
      unsubscribe('portico:endpoint:state', listener)
    }
    assert.deepEqual(
      changes.map((change) => `${change.from}->${change.to}`),
      ['active->suspended', 'suspended->unhealthy', 'unhealthy->active'],
    )
  })

  test('a POST whose bytes reached a backend that then failed is not sent again; a refused one is', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'reset-after-body'
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(primary!, 'suspendOnFailure: { initialDuration: 0 }')}, ${leafYaml(backup!)}] }`))
    const post = await call('POST', 'order=1')
    assert.equal(post.status, 502)
    assert.equal(post.json().code, 'BACKEND_CONNECTION_CLOSED')
    assert.match(post.json().message, /POST is not idempotent and primary may have processed it \(reset\)/)
    assert.equal(backup!.received.length, 0, 'the POST was not duplicated')
    assert.equal((await call('PUT', 'x=1')).text, 'backup', 'an idempotent PUT is sent again')
    await primary!.stop()
    assert.equal((await call('POST', 'order=2')).text, 'backup', 'connection refused proves the primary never saw it')
  })

  test('retryNonIdempotent sends a POST again after a reset', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'reset-after-body'
    gateway = await startGateway(apiWith(`{ type: failover, retryNonIdempotent: true, endpoints: [${leafYaml(primary!)}, ${leafYaml(backup!)}] }`))
    assert.equal((await call('POST', 'order=1')).text, 'backup')
    assert.deepEqual(primary!.log.map((entry) => `${entry.backend} ${entry.method}`), ['primary POST', 'backup POST'])
  })

  test('a buffered body is sent again byte for byte', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'reset-after-body'
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(primary!)}, ${leafYaml(backup!)}] }`))
    const body = randomBytes(700_000)
    const digest = createHash('sha256').update(body).digest('hex')
    assert.equal((await call('PUT', body)).text, 'backup')
    assert.deepEqual(primary!.log.map((entry) => [entry.backend, entry.bytes, entry.digest]), [
      ['primary', body.length, digest],
      ['backup', body.length, digest],
    ])
  })

  test('a body over replayBufferBytes streams; it is sent again only if no attempt had read it', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    gateway = await startGateway(apiWith(`{ type: failover, replayBufferBytes: 1024, endpoints: [${leafYaml(primary!)}, ${leafYaml(backup!)}] }`))
    const body = randomBytes(300_000)
    const digest = createHash('sha256').update(body).digest('hex')
    primary!.mode = 'reset-after-body'
    const failed = await call('PUT', body)
    assert.equal(failed.status, 502)
    assert.match(failed.json().message, /larger than replayBufferBytes and was already streamed/)
    assert.equal(backup!.received.length, 0)
    await primary!.stop()
    await sleep(5)
    await gateway.close()
    gateway = await startGateway(apiWith(`{ type: failover, replayBufferBytes: 1024, endpoints: [${leafYaml(primary!)}, ${leafYaml(backup!)}] }`))
    assert.equal((await call('PUT', body)).text, 'backup', 'a refused connection never read the stream')
    assert.deepEqual(backup!.received.map((entry) => [entry.bytes, entry.digest]), [[body.length, digest]])
  })

  test('maxAttempts bounds the attempts, totalTimeout the time', async () => {
    const ports = await Promise.all([closedPort(), closedPort(), closedPort()])
    const dead = ports.map((port, index) => `{ type: http, name: d${index}, url: "http://127.0.0.1:${port}" }`)
    gateway = await startGateway(apiWith(`{ type: failover, maxAttempts: 2, endpoints: [${dead.join(', ')}] }`))
    const response = await call('GET')
    assert.equal(response.status, 503)
    assert.match(response.json().message, /all 2 attempts failed; tried d0 \(connect-refused\), d1 \(connect-refused\)\)$/)
    await gateway.close()

    const [slow1, slow2] = await backends.start('slow1', 'slow2')
    slow1!.mode = 'stall'
    slow2!.mode = 'stall'
    gateway = await startGateway(apiWith(`{ type: failover, totalTimeout: 200ms, endpoints: [${leafYaml(slow1!)}, ${leafYaml(slow2!)}] }`))
    const started = performance.now()
    const timedOut = await call('GET')
    const elapsed = performance.now() - started
    assert.equal(timedOut.status, 504)
    assert.equal(timedOut.json().code, 'BACKEND_TIMEOUT')
    assert.ok(elapsed >= 190 && elapsed < 1500, `answered after ${elapsed} ms`)
    assert.equal(leaf('slow1').state, 'active', 'the group cutting an attempt short is not the leaf failing')
  })

  test('a backend that resets mid-response cuts the client off: never a silent, truncated 200', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'reset-mid-response'
    gateway = await startGateway(apiWith(`{ type: failover, endpoints: [${leafYaml(primary!)}, ${leafYaml(backup!)}] }`))
    const response = await request(`${gateway.url}/t/v1/x`, { headersTimeout: 5000, bodyTimeout: 5000 })
    assert.equal(response.statusCode, 200, 'the headers were already on their way to the client')
    await assert.rejects(response.body.text(), 'the client sees an incomplete body, not a complete one')
    assert.equal(backup!.received.length, 0, 'a response already streaming to the client cannot move to another endpoint')
  })

  test('groups nest: a failover over a load balancer moves on when the whole balancer fails, and never replays an unsafe POST', async () => {
    const [a, b, standby] = await backends.start('a', 'b', 'standby')
    gateway = await startGateway(
      apiWith(`{ type: failover, endpoints: [{ type: loadbalance, name: pool, endpoints: [${leafYaml(a!, 'suspendOnFailure: { initialDuration: 0 }')}, ${leafYaml(b!, 'suspendOnFailure: { initialDuration: 0 }')}] }, ${leafYaml(standby!)}] }`),
    )
    assert.deepEqual([(await call('GET')).text, (await call('GET')).text], ['a', 'b'])
    a!.mode = 'reset-after-body'
    b!.mode = 'reset-after-body'
    const get = await call('GET')
    assert.equal(get.text, 'standby')
    const post = await call('POST', 'once')
    assert.equal(post.status, 502)
    assert.match(post.json().message, /not sent again: POST is not idempotent/)
    assert.equal(standby!.received.filter((entry) => entry.method === 'POST').length, 0)
    await a!.stop()
    await b!.stop()
    assert.equal((await call('POST', 'refused')).text, 'standby', 'refused connections in the nested group prove nothing was sent')
  })

  test('a reload that leaves a leaf unchanged keeps its suspension', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'fail-503'
    const yaml = apiWith(`{ type: failover, endpoints: [${leafYaml(primary!, 'failureStatuses: [503]')}, ${leafYaml(backup!)}] }`)
    gateway = await startGateway(yaml)
    await call('GET')
    assert.equal(leaf('primary').state, 'suspended')
    const { parseConfig } = await import('../src/config/load.ts')
    const next = parseConfig(`${yaml}  - { name: other, context: /other, version: v1, lifecycle: CREATED }\n`)
    await gateway.instance.gateway.reload({ ...next, listeners: gateway.instance.gateway.snapshot.config.listeners })
    assert.equal(gateway.instance.gateway.snapshot.apis.length, 2)
    assert.equal(leaf('primary').state, 'suspended')
    assert.equal((await call('GET')).text, 'backup')
    assert.equal(primary!.received.length, 1)
  })

  test('state changes are published once, not once per request', async () => {
    const [primary, backup] = await backends.start('primary', 'backup')
    primary!.mode = 'fail-503'
    gateway = await startGateway(
      apiWith(`{ type: failover, endpoints: [${leafYaml(primary!, 'failureStatuses: [503], suspendOnFailure: { initialDuration: 1s }')}, ${leafYaml(backup!)}] }`),
    )
    // The suspension outlasts ten calls even on a slow, busy machine, so a second trial never sneaks in.
    const changes: StateChange[] = []
    const listener = (message: unknown) => changes.push(message as StateChange)
    subscribe('portico:endpoint:state', listener)
    try {
      for (let i = 0; i < 10; i++) await call('GET')
      primary!.mode = 'ok'
      await sleep(1100)
      for (let i = 0; i < 10; i++) await call('GET')
    } finally {
      unsubscribe('portico:endpoint:state', listener)
    }
    assert.deepEqual(
      changes.map((change) => `${change.id} ${change.from}->${change.to}`),
      ['primary active->suspended', 'primary suspended->active'],
    )
  })

  test('/metrics shows leaf states, attempts and failures by kind; /admin/endpoints shows the tree', async () => {
    const [a] = await backends.start('a')
    const refused = await closedPort()
    gateway = await startGateway(apiWith(`{ type: failover, name: orders, endpoints: [{ type: http, name: gone, url: "http://127.0.0.1:${refused}" }, ${leafYaml(a!)}] }`))
    for (let i = 0; i < 3; i++) assert.equal((await call('GET')).text, 'a')
    const metrics = await (await request(`${gateway.adminUrl}/metrics`)).body.text()
    assert.match(metrics, /portico_endpoint_state\{endpoint="gone",state="suspended"\} 1/)
    assert.match(metrics, /portico_endpoint_state\{endpoint="a",state="active"\} 1/)
    assert.match(metrics, /portico_endpoint_attempts_total\{endpoint="a"\} 3/)
    assert.match(metrics, /portico_endpoint_failures_total\{endpoint="gone",kind="connect-refused"\} 1/)
    const tree = (await (await request(`${gateway.adminUrl}/admin/endpoints`)).body.json()) as { endpoints: EndpointStatus[] }
    const root = tree.endpoints[0]!
    assert.equal(root.type, 'failover')
    assert.equal(root.id, 'orders')
    assert.deepEqual(root.children!.map((child) => [child.id, child.state]), [['gone', 'suspended'], ['a', 'active']])
    assert.ok(Date.parse(String(root.children![0]!['nextRetry'])) > Date.now())
  })
})
