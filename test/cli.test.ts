import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { startBackend, type TestBackend } from './support/backend.ts'
import { freePort, runCli, startCli } from './support/cli.ts'

/** A backend that names itself in the body; requests to `/slow` answer after `slowMs`. */
function namedBackend(name: string, slowMs = 0): Promise<TestBackend> {
  return startBackend((req, res) => {
    const answer = () => res.end(name)
    if (req.url?.endsWith('/slow')) setTimeout(answer, slowMs)
    else answer()
  })
}

function config(port: number, adminPort: number, backendUrl: string, extra = ''): string {
  return `listeners: [{ name: main, host: 127.0.0.1, port: ${port} }]
admin: { host: 127.0.0.1, port: ${adminPort} }
accessLog: { enabled: false }
apis:
  - name: shop
    context: /shop
    version: v1
    endpoints:
      production: { type: http, url: "${backendUrl}" }
${extra}`
}

/** GET over a fresh connection each time, so that with several workers every one of them gets a share. */
function getFresh(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, timeout: 10_000 }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 10 s`)))
    req.on('error', reject)
    req.end()
  })
}

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-cli-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('portico validate', () => {
  test('a valid file exits 0 and says what it holds', async () => {
    const file = join(dir, 'valid.yaml')
    await writeFile(file, config(8280, 9901, 'http://127.0.0.1:9'))
    const result = await runCli(['validate', file])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /valid\.yaml is valid: 1 API\(s\), 1 listener\(s\)/)
  })

  test('an invalid file exits 1 and lists every problem with file, line, column and field path', async () => {
    const file = join(dir, 'invalid.yaml')
    await writeFile(
      file,
      `apis:
  - name: shop
    context: shop/
    version: v1
    endpoints:
      production: { type: http, urll: "http://127.0.0.1:9" }
`,
    )
    const result = await runCli(['validate', file])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^invalid\.yaml:3:14: apis\[0\]\.context: .+/m)
    assert.match(result.stderr, /^invalid\.yaml:6:19: apis\[0\]\.endpoints\.production: unknown field "urll"/m)
    assert.match(result.stderr, /^invalid\.yaml:6:19: apis\[0\]\.endpoints\.production\.url: is required/m)
    assert.match(result.stderr, /4 problem\(s\) in .*invalid\.yaml/)
  })

  test('a PUBLISHED API with no endpoint at all is refused, saying what it would answer; a CREATED one is accepted', async () => {
    const file = join(dir, 'unserved.yaml')
    const api = (lifecycle: string) => `apis:\n  - { name: shop, context: /shop, version: v1, lifecycle: ${lifecycle}, resources: [{ uriTemplate: /orders }] }\n`
    await writeFile(file, api('PUBLISHED'))
    const refused = await runCli(['validate', file])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /^unserved\.yaml:2:5: apis\[0\]\.endpoints: the API is PUBLISHED but has no endpoint: every request would answer 404 ENVIRONMENT_NOT_CONFIGURED/m)
    await writeFile(file, api('CREATED'))
    assert.equal((await runCli(['validate', file])).code, 0)
    // Endpoints on a resource are endpoints too.
    await writeFile(file, `apis:\n  - { name: shop, context: /shop, version: v1, resources: [{ uriTemplate: /orders, endpoints: { sandbox: { type: http, url: "http://127.0.0.1:9" } } }] }\n`)
    assert.equal((await runCli(['validate', file])).code, 0)
  })

  test('a YAML syntax error, an alias bomb and a missing file are reported, not thrown', async () => {
    const file = join(dir, 'broken.yaml')
    await writeFile(file, 'apis:\n  - name: [unclosed\n')
    const broken = await runCli(['validate', file])
    assert.equal(broken.code, 1)
    assert.match(broken.stderr, /^broken\.yaml:\d+:\d+: /m)
    assert.doesNotMatch(broken.stderr, /at .*\.ts:\d+/, 'no stack trace')
    const missing = await runCli(['validate', join(dir, 'nope.yaml')])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /cannot read the file/)
    // Aliases of aliases: nine to the sixth power strings from seven lines.
    const bomb = join(dir, 'bomb.yaml')
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for (const [from, to] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f'], ['f', 'g']]) levels.push(`${to}: &${to} [${Array(9).fill(`*${from}`).join(',')}]`)
    await writeFile(bomb, `${levels.join('\n')}\napis: []\n`)
    const expanded = await runCli(['validate', bomb])
    assert.equal(expanded.code, 1)
    assert.match(expanded.stderr, /^bomb\.yaml: .*more than 100 alias expansions/m)
  })

  test('a config nested past 64 levels is refused at the place it gets too deep; one thousands deep, as unreadable', async () => {
    const nested = (levels: number) => {
      let endpoint = '{ type: http, url: "http://127.0.0.1:9" }'
      for (let i = 0; i < levels; i++) endpoint = `{ type: failover, endpoints: [${endpoint}] }`
      return `apis:\n  - { name: deep, context: /deep, version: v1, endpoints: { production: ${endpoint} } }\n`
    }
    const file = join(dir, 'deep.yaml')
    await writeFile(file, nested(20))
    assert.equal((await runCli(['validate', file])).code, 0, 'twenty groups inside each other are allowed')
    await writeFile(file, nested(40))
    const deep = await runCli(['validate', file])
    assert.equal(deep.code, 1)
    assert.match(deep.stderr, /^deep\.yaml:\d+:\d+: apis\[0\]\.endpoints\.production(\.endpoints\[0\]){30}: nests more than 64 levels deep$/m)
    await writeFile(file, nested(5000))
    const unreadable = await runCli(['validate', file])
    assert.equal(unreadable.code, 1)
    assert.match(unreadable.stderr, /^deep\.yaml:\d+:\d+: the document nests too deeply to be read \(a config may nest at most 64 levels\)$/m)
    assert.doesNotMatch(unreadable.stderr, /call stack/)
  })

  test('an unknown command exits 2 with the usage', async () => {
    const result = await runCli(['serve'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /Unknown command "serve"/)
    assert.match(result.stderr, /portico validate FILE/)
  })
})

describe('bin/portico', () => {
  test("keeps Node's compile cache in the temp dir, so that later starts skip the TypeScript stripper", async () => {
    const bin = fileURLToPath(new URL('../bin/portico', import.meta.url))
    const temp = await mkdtemp(join(dir, 'tmp-'))
    const { NODE_COMPILE_CACHE: _set, NODE_DISABLE_COMPILE_CACHE: _off, ...inherited } = process.env
    const { stdout } = await promisify(execFile)(bin, ['--help'], { env: { ...inherited, TMPDIR: temp }, timeout: 20_000 })
    assert.match(stdout, /^Usage: portico COMMAND/)
    const cached = await readdir(join(temp, 'portico-compile-cache'), { recursive: true })
    assert.ok(cached.length > 1, `the cache holds the modules a start compiled: ${cached.join(', ')}`)
  })

  test("runs Node with a young generation of 16 MiB a semi-space, unless the caller's NODE_OPTIONS sets its own", async () => {
    const bin = fileURLToPath(new URL('../bin/portico', import.meta.url))
    // Loaded before the CLI: prints the largest semi-space V8 was configured with and stops the process. V8's heap
    // limit is the old generation's plus three semi-spaces (two for the young generation, one for its large
    // objects); with the old generation fixed by the caller, the semi-space follows from the limit alone. Reading
    // the configured limit, not how far the young generation has grown, keeps this independent of the machine.
    const probe = join(dir, 'semi-space-probe.cjs')
    await writeFile(
      probe,
      `const limit = require('node:v8').getHeapStatistics().heap_size_limit / 1048576
process.stdout.write(JSON.stringify({ semiSpaceMiB: (limit - 512) / 3 }))
process.exit(0)
`,
    )
    const { NODE_OPTIONS: _caller, ...inherited } = process.env
    const semiSpaceMiB = async (nodeOptions: string) => {
      const env = { ...inherited, NODE_OPTIONS: `--max-old-space-size=512 ${nodeOptions} --require ${probe}` }
      const { stdout } = await promisify(execFile)(bin, ['--help'], { env, timeout: 20_000 })
      return (JSON.parse(stdout) as { semiSpaceMiB: number }).semiSpaceMiB
    }
    assert.equal(await semiSpaceMiB(''), 16)
    assert.equal(await semiSpaceMiB('--max-semi-space-size=32'), 32, "the caller's setting wins")
  })
})

describe('portico start, one process', () => {
  let a: TestBackend
  let b: TestBackend
  before(async () => {
    a = await namedBackend('a', 1500)
    b = await namedBackend('b')
  })
  after(async () => {
    await a.close()
    await b.close()
  })

  test('--watch reloads a changed file, lets in-flight requests finish, and keeps the running config when the new one is invalid', async () => {
    const [port, adminPort] = [await freePort(), await freePort()]
    const file = join(dir, 'watched.yaml')
    await writeFile(file, config(port, adminPort, a.url))
    const cli = startCli(['start', '--config', file, '--watch', '--workers', '1'])
    try {
      await cli.waitForLog('listening on')
      const base = `http://127.0.0.1:${port}/shop/v1`
      assert.equal((await getFresh(`${base}/x`)).body, 'a')

      const inFlight = getFresh(`${base}/slow`)
      await new Promise((resolve) => setTimeout(resolve, 300))
      await writeFile(file, config(port, adminPort, b.url))
      await cli.waitForLog('"msg":"config reloaded"')
      assert.equal((await getFresh(`${base}/x`)).body, 'b', 'new requests use the new config')
      assert.deepEqual(await inFlight, { status: 200, body: 'a' }, 'the request in flight finished on the old endpoint')

      await writeFile(file, config(port, adminPort, 'ftp://nowhere'))
      await cli.waitForLog('config not reloaded, the running one is kept')
      // The problems follow the summary line, each its own log entry: wait for the one this change makes.
      await cli.waitForLog('must use http or https')
      assert.match(cli.log(), /apis\[0\]\.endpoints\.production\.url: must use http or https/)
      assert.equal((await getFresh(`${base}/x`)).body, 'b', 'still serving the last valid config')
    } finally {
      await cli.stop()
    }
  })

  test('SIGHUP reloads without --watch', async () => {
    const [port, adminPort] = [await freePort(), await freePort()]
    const file = join(dir, 'hup.yaml')
    await writeFile(file, config(port, adminPort, a.url))
    const cli = startCli(['start', '--config', file, '--workers', '1'])
    try {
      await cli.waitForLog('listening on')
      await writeFile(file, config(port, adminPort, b.url))
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.equal((await getFresh(`http://127.0.0.1:${port}/shop/v1/x`)).body, 'a', 'no reload without --watch or SIGHUP')
      cli.child.kill('SIGHUP')
      await cli.waitForLog('"msg":"config reloaded"')
      assert.equal((await getFresh(`http://127.0.0.1:${port}/shop/v1/x`)).body, 'b')
    } finally {
      await cli.stop()
    }
  })

  test('a config that cannot start exits 1 with its problems', async () => {
    const file = join(dir, 'bad-start.yaml')
    await writeFile(file, 'apis: [{ name: x }]\n')
    const result = await runCli(['start', '--config', file, '--workers', '1'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /apis\[0\]\.context: is required/)
  })
})

describe('portico start --workers 2', () => {
  test('every worker serves, a reload reaches all of them, and the admin port aggregates their metrics', async () => {
    const a = await namedBackend('a')
    const b = await namedBackend('b')
    const [port, adminPort] = [await freePort(), await freePort()]
    const file = join(dir, 'cluster.yaml')
    await writeFile(file, config(port, adminPort, a.url))
    const cli = startCli(['start', '--config', file, '--workers', '2'])
    try {
      await cli.waitForLog('worker serving', 2)
      const base = `http://127.0.0.1:${port}/shop/v1/x`
      for (let i = 0; i < 10; i++) assert.equal((await getFresh(base)).body, 'a')

      await writeFile(file, config(port, adminPort, b.url))
      cli.child.kill('SIGHUP')
      await cli.waitForLog('"msg":"config reloaded"', 2)
      for (let i = 0; i < 10; i++) assert.equal((await getFresh(base)).body, 'b', 'every worker took the new config')

      const metrics = await (await request(`http://127.0.0.1:${adminPort}/metrics`)).body.text()
      const served = [...metrics.matchAll(/^portico_requests_total\{api="shop:v1",[^}]*status="200"\} (\d+)$/gm)]
      assert.equal(served.reduce((sum, match) => sum + Number(match[1]), 0), 20, 'the sum over both workers')
      const view = (await (await request(`http://127.0.0.1:${adminPort}/admin/endpoints`)).body.json()) as { workers: number; endpoints: Array<{ attempts: number }> }
      assert.equal(view.workers, 2)
      assert.equal(view.endpoints.length, 1, 'one view of the endpoints, not one per worker')
      assert.equal(view.endpoints[0]!.attempts, 10, 'the reloaded endpoint: attempts summed over both workers')
    } finally {
      await cli.stop()
      await a.close()
      await b.close()
    }
  })
})

describe('portico validate, across endpoint trees', () => {
  test('endpoint names must be unique across groups too', async () => {
    const file = join(dir, 'names.yaml')
    await writeFile(
      file,
      `apis:
  - name: a
    context: /a
    version: v1
    endpoints:
      production: { type: failover, endpoints: [{ type: http, name: orders, url: "http://127.0.0.1:9" }, { type: http, name: orders, url: "http://127.0.0.1:10" }] }
`,
    )
    const result = await runCli(['validate', file])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /apis\[0\]\.endpoints\.production\.endpoints\[1\]\.name: "orders" is used by apis\[0\]\.endpoints\.production\.endpoints\[0\] already/)
  })
})
