import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Agent, request } from 'undici'
import { startGateway, type TestGateway } from './support/gateway.ts'

/** Scripts as YAML block scalars under `resources`, each answering one URI template. */
function scripted(scripts: Record<string, string>): string {
  const resources = Object.entries(scripts)
    .map(([template, source]) => `          - uriTemplate: "${template}"\n            script: |\n${source.trim().split('\n').map((line) => `              ${line}`).join('\n')}`)
    .join('\n')
  return `
apis:
  - name: Scripted
    context: /scripted
    version: v1
    lifecycle: PROTOTYPED
    resources:
${Object.keys(scripts).map((template) => `      - uriTemplate: "${template}"`).join('\n')}
    endpoints:
      production:
        type: prototype
        name: scripted-prototype
        resources:
${resources}
`
}

const SCRIPTS = {
  '/orders/{orderId}': `
(request) => ({
  status: request.method === 'POST' ? 201 : 200,
  headers: { 'X-Order': request.uriVariables.orderId },
  body: {
    method: request.method,
    orderId: request.uriVariables.orderId,
    size: request.query.size,
    toppings: request.query.topping,
    customer: request.headers['x-customer'],
    json: request.json,
  },
}) // a trailing comment must not break the call`,
  '/text': `(request) => ({ body: 'plain ' + request.body.toUpperCase() })`,
  '/fresh': `(request) => { globalThis.count = (globalThis.count || 0) + 1; return { body: { count: globalThis.count } } }`,
  '/loop': `(request) => { while (true) {} }`,
  '/allocate': `(request) => { const parts = []; for (;;) parts.push('x'.repeat(1 << 20) + parts.length) }`,
  '/huge-buffer': `(request) => ({ body: String(new ArrayBuffer(1 << 29).byteLength) })`,
  '/process': `(request) => { process.exit(1) }`,
  '/require': `(request) => { const fs = require('fs'); return { body: fs.readFileSync('/etc/passwd', 'utf8') } }`,
  '/escape': `(request) => ({ body: String(Function('return typeof process + typeof require + typeof globalThis.std + typeof os')()) })`,
  '/recursion': `(request) => { const f = () => f(); return f() }`,
  '/throws': `(request) => { throw new RangeError('no pizza today') }`,
  '/bad-status': `(request) => ({ status: 42 })`,
  '/bad-header': `(request) => ({ headers: { 'x-evil': 'a\\r\\nset-cookie: stolen=1' } })`,
  '/async': `async (request) => ({ body: 'later' })`,
  '/syntax': `(request) => {`,
}

describe('prototype scripts in the QuickJS sandbox', () => {
  let gateway: TestGateway

  before(async () => {
    gateway = await startGateway(scripted(SCRIPTS))
  })

  after(async () => {
    await gateway.close()
  })

  async function call(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
    const response = await request(`${gateway.url}/scripted/v1${path}`, {
      method: (init.method ?? 'GET') as 'GET',
      headers: init.headers ?? {},
      body: init.body ?? null,
      headersTimeout: 5000,
      bodyTimeout: 5000,
    })
    return { status: response.statusCode, headers: response.headers, text: await response.body.text() }
  }

  async function failure(path: string): Promise<string> {
    const response = await call(path)
    assert.equal(response.status, 500, `${path}: ${response.text}`)
    const body = JSON.parse(response.text) as { code: string; message: string }
    assert.equal(body.code, 'PROTOTYPE_SCRIPT_FAILED')
    return body.message
  }

  test('a script gets method, URI variables, query, headers and the JSON body, and shapes the response', async () => {
    const response = await call('/orders/42?size=large&topping=olives&topping=ham', {
      method: 'POST',
      headers: { 'x-customer': 'ada', 'content-type': 'application/json' },
      body: '{"pizza":"margherita"}',
    })
    assert.equal(response.status, 201)
    assert.equal(response.headers['x-order'], '42')
    assert.equal(response.headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(response.text), {
      method: 'POST',
      orderId: '42',
      size: 'large',
      toppings: ['olives', 'ham'],
      customer: 'ada',
      json: { pizza: 'margherita' },
    })
    const text = await call('/text', { method: 'PUT', body: 'hello' })
    assert.equal(text.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(text.text, 'plain HELLO')
  })

  test('every run starts from a fresh sandbox: nothing leaks between requests', async () => {
    for (let i = 0; i < 3; i++) assert.deepEqual(JSON.parse((await call('/fresh')).text), { count: 1 })
  })

  test('an endless loop is interrupted after the time limit with a 500 that says so', async () => {
    const started = performance.now()
    const message = await failure('/loop')
    const elapsed = performance.now() - started
    assert.match(message, /ran longer than its 50 ms limit/)
    assert.ok(elapsed < 1000, `interrupted after ${elapsed} ms`)
  })

  test('allocating without end hits the memory limit (or the deadline), never the gateway', async () => {
    assert.match(await failure('/allocate'), /needed more than its 16777216 bytes of memory|ran longer than its 50 ms limit/)
    assert.match(await failure('/huge-buffer'), /needed more than its 16777216 bytes of memory/)
    const usage = process.memoryUsage().rss
    assert.ok(usage < 1024 * 1024 * 1024, `the gateway's process holds ${usage} bytes`)
  })

  test('process, require and the host are out of reach', async () => {
    assert.match(await failure('/process'), /ReferenceError: 'process' is not defined/)
    assert.match(await failure('/require'), /ReferenceError: 'require' is not defined/)
    const escape = await call('/escape')
    assert.equal(escape.status, 200)
    assert.equal(escape.text, 'undefinedundefinedundefinedundefined')
  })

  test('throws, runaway recursion, bad results and syntax errors are 500s with a clear message', async () => {
    assert.match(await failure('/throws'), /threw RangeError: no pizza today/)
    assert.match(await failure('/recursion'), /overflowed its stack/)
    assert.match(await failure('/bad-status'), /returned status 42; use a whole number from 200 to 599/)
    assert.match(await failure('/bad-header'), /invalid header "x-evil"/)
    assert.match(await failure('/async'), /returned a Promise/)
    assert.match(await failure('/syntax'), /threw SyntaxError/)
  })

  test('a script right after one that got its worker killed runs in full time in the new worker', async () => {
    // The allocation loop stalls in garbage collection until the watchdog kills the worker; the next script is the
    // first in a fresh WebAssembly instance, whose compilation must not count against its 50 ms.
    for (let round = 0; round < 4; round++) {
      const [killed, next] = await Promise.all([call('/allocate'), call(`/orders/${round}`)])
      assert.equal(killed.status, 500)
      assert.equal(next.status, 200, `round ${round}: ${next.text}`)
    }
  })

  test('the gateway keeps serving while and after scripts fail', async () => {
    const results = await Promise.all([call('/loop'), call('/orders/1'), call('/allocate'), call('/orders/2'), call('/process')])
    assert.deepEqual(results.map((result) => result.status), [500, 200, 500, 200, 500])
    assert.equal(JSON.parse((await call('/orders/3')).text).orderId, '3')
    const endpoints = (await request(`${gateway.adminUrl}/admin/endpoints`).then((response) => response.body.json())) as {
      endpoints: Array<{ id: string; scriptFailures: number; served: number }>
    }
    const prototype = endpoints.endpoints.find((endpoint) => endpoint.id === 'scripted-prototype')!
    assert.ok(prototype.scriptFailures >= 12, `counted ${prototype.scriptFailures} failures`)
  })
})

describe('prototype script limits', () => {
  test('scriptLimits.time sets the deadline', async () => {
    const gateway = await startGateway(scripted({ '/loop': `(request) => { while (true) {} }` }).replace('name: scripted-prototype', 'name: p\n        scriptLimits: { time: 200ms }'))
    try {
      const started = performance.now()
      const response = await request(`${gateway.url}/scripted/v1/loop`, { headersTimeout: 5000, bodyTimeout: 5000 })
      const elapsed = performance.now() - started
      assert.equal(response.statusCode, 500)
      assert.match(((await response.body.json()) as { message: string }).message, /longer than its 200 ms limit/)
      assert.ok(elapsed >= 190 && elapsed < 1500, `took ${elapsed} ms`)
    } finally {
      await gateway.close()
    }
  })

  test('a looping script does not hold up the gateway: other resources answer meanwhile', async () => {
    const yaml = `
apis:
  - name: Mixed
    context: /mixed
    version: v1
    lifecycle: CREATED
    resources:
      - { uriTemplate: /loop }
      - { uriTemplate: /static }
    endpoints:
      production:
        type: prototype
        scriptLimits: { time: 600ms }
        resources:
          - { uriTemplate: /loop, script: "(request) => { while (true) {} }" }
          - { uriTemplate: /static, responses: [{ body: still here }] }
`
    const gateway = await startGateway(yaml)
    try {
      const started = performance.now()
      const looping = request(`${gateway.url}/mixed/v1/loop`, { headersTimeout: 5000, bodyTimeout: 5000 })
      await new Promise((resolve) => setTimeout(resolve, 100))
      const answered = await request(`${gateway.url}/mixed/v1/static`, { headersTimeout: 5000, bodyTimeout: 5000 })
      assert.equal(await answered.body.text(), 'still here')
      const staticAt = performance.now() - started
      const loop = await looping
      await loop.body.text()
      const loopAt = performance.now() - started
      assert.equal(loop.statusCode, 500)
      assert.ok(staticAt < 400 && loopAt >= 590, `static answered at ${staticAt} ms, the script failed at ${loopAt} ms`)
    } finally {
      await gateway.close()
    }
  })

  test('a flood of scripts is bounded: past 64 waiting, 503 PROTOTYPE_BUSY; clients that leave free their place', async () => {
    const yaml = `
apis:
  - name: Flood
    context: /flood
    version: v1
    lifecycle: CREATED
    resources:
      - { uriTemplate: /loop }
      - { uriTemplate: /quick }
    endpoints:
      production:
        type: prototype
        scriptLimits: { time: 1s }
        resources:
          - { uriTemplate: /loop, script: "(request) => { while (true) {} }" }
          - { uriTemplate: /quick, script: "(request) => ({ body: 'quick' })" }
`
    const gateway = await startGateway(yaml)
    const client = new Agent()
    try {
      const controllers: AbortController[] = []
      const calls = Array.from({ length: 71 }, () => {
        const controller = new AbortController()
        controllers.push(controller)
        return request(`${gateway.url}/flood/v1/loop`, { dispatcher: client, signal: controller.signal, headersTimeout: 5000, bodyTimeout: 5000 }).then(
          async (response) => ({ status: response.statusCode, code: ((await response.body.json()) as { code: string }).code }),
          () => ({ status: 0, code: 'aborted' }),
        )
      })
      // The busy answers come at once, while the first script still runs and 64 wait.
      await new Promise((resolve) => setTimeout(resolve, 500))
      for (const controller of controllers) controller.abort()
      const results = await Promise.all(calls)
      const busy = results.filter((result) => result.code === 'PROTOTYPE_BUSY')
      assert.equal(busy.length, 6, JSON.stringify(results))
      assert.ok(busy.every((result) => result.status === 503))
      const started = performance.now()
      const quick = await request(`${gateway.url}/flood/v1/quick`, { dispatcher: client, headersTimeout: 5000, bodyTimeout: 5000 })
      assert.equal(await quick.body.text(), 'quick')
      assert.ok(performance.now() - started < 1500, 'the 64 abandoned scripts never ran')
    } finally {
      // Its own client, closed first: the gateway's close then need not wait for 71 keep-alive connections.
      await client.close()
      await gateway.close()
    }
  })
})
