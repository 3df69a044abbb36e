import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startBackend, type TestBackend } from './support/backend.ts'
import { freePort, startCli } from './support/cli.ts'

/**
 * `--workers 2` is one gateway: the primary owns each leaf's suspension, health check and sticky-session table,
 * and the workers share it. Each test runs real backends and the real CLI; connections are fresh each time, so
 * the kernel spreads them over both workers.
 */

/** A backend that names itself in its body and counts its health-check probes. */
async function namedBackend(name: string): Promise<TestBackend & { probes: number[] }> {
  const probes: number[] = []
  const backend = await startBackend((req, res) => {
    if (req.url === '/health') probes.push(Date.now())
    res.end(name)
  })
  return Object.assign(backend, { probes })
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, timeout: 10_000, headers }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 10 s`)))
    req.on('error', reject)
    req.end()
  })
}

function config(port: number, adminPort: number, group: string): string {
  return `listeners: [{ name: main, host: 127.0.0.1, port: ${port} }]
admin: { host: 127.0.0.1, port: ${adminPort} }
accessLog: { enabled: false }
apis:
  - name: shop
    context: /shop
    version: v1
    endpoints:
      production: ${group}
`
}

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-cluster-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Starts the CLI with `workers`, runs `body` against it, and stops it. */
async function withGateway<T>(name: string, workers: number, group: string, body: (base: string, admin: string, log: () => string) => Promise<T>): Promise<T> {
  const [port, adminPort] = [await freePort(), await freePort()]
  const file = join(dir, `${name}-${workers}.yaml`)
  await writeFile(file, config(port, adminPort, group))
  const cli = startCli(['start', '--config', file, '--workers', String(workers)])
  try {
    await cli.waitForLog(workers > 1 ? 'worker serving' : 'listening on', workers > 1 ? workers : 1)
    return await body(`http://127.0.0.1:${port}/shop/v1`, `http://127.0.0.1:${adminPort}`, cli.log)
  } finally {
    await cli.stop()
  }
}

describe('portico start --workers 2 keeps one endpoint state', () => {
  test('a killed backend costs the client as many failures as with one worker: it is suspended once, for all workers', async () => {
    /** Client-visible failures of 30 requests after the second member of a round-robin group is killed. */
    const failuresAfterKill = async (workers: number) => {
      const a = await namedBackend('a')
      const b = await namedBackend('b')
      const group = `{ type: loadbalance, failover: false, endpoints: [{ type: http, name: a, url: "${a.url}" }, { type: http, name: b, url: "${b.url}" }] }`
      try {
        return await withGateway('killed', workers, group, async (base, admin, log) => {
          for (let i = 0; i < 10; i++) assert.equal((await get(`${base}/x`)).status, 200)
          await b.close()
          let failures = 0
          for (let i = 0; i < 30; i++) if ((await get(`${base}/x`)).status !== 200) failures++
          const metrics = await (await fetch(`${admin}/metrics`)).text()
          const view = (await (await fetch(`${admin}/admin/endpoints`)).json()) as { endpoints: Array<{ children: Array<{ id: string; state: string; attempts: number }> }> }
          const suspensionsLogged = log().split('endpoint b: active -> suspended').length - 1
          return { failures, metrics, view, suspensionsLogged }
        })
      } finally {
        await a.close()
      }
    }
    const one = await failuresAfterKill(1)
    const two = await failuresAfterKill(2)
    assert.equal(one.failures, 1, 'one worker: the first failure suspends b')
    assert.equal(two.failures, one.failures, 'two workers: the same, not one discovery per worker')
    assert.equal(two.suspensionsLogged, 1, 'the suspension is logged once')
    assert.match(two.metrics, /^portico_endpoint_state\{endpoint="b",state="suspended"\} 1$/m, 'one state per leaf, not the sum over workers')
    assert.match(two.metrics, /^portico_endpoint_state\{endpoint="b",state="active"\} 0$/m)
    assert.match(two.metrics, /^portico_endpoint_suspensions_total\{endpoint="b"\} 1$/m)
    const [root] = two.view.endpoints
    const b = root!.children.find((child) => child.id === 'b')!
    assert.equal(b.state, 'suspended', '/admin/endpoints shows one view')
    const attempts = root!.children.reduce((sum, child) => sum + child.attempts, 0)
    assert.equal(attempts, 40, 'attempts are summed over the workers')
  })

  test('after a suspension one trial request goes to the backend, not one per worker', async () => {
    const a = await namedBackend('a')
    let hang = false
    // Once it hangs, b answers nothing: each request to it fails after the leaf's 300 ms response timeout.
    const b = await startBackend((_req, res) => {
      if (!hang) res.end('b')
    })
    const group = `{ type: loadbalance, failover: false, endpoints: [{ type: http, name: a, url: "${a.url}" }, { type: http, name: b, url: "${b.url}", timeouts: { response: 300ms }, suspendOnFailure: { initialDuration: 500ms } }] }`
    try {
      await withGateway('trial', 2, group, async (base, admin) => {
        hang = true
        // Sequentially until b has failed once and is suspended; then four clients at once, for 3 s.
        while ((await get(`${base}/x`)).status === 200);
        let failures = 0
        const until = Date.now() + 3000
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            while (Date.now() < until) if ((await get(`${base}/x`)).status !== 200) failures++
          }),
        )
        const metrics = await (await fetch(`${admin}/metrics`)).text()
        const suspensions = Number(/^portico_endpoint_suspensions_total\{endpoint="b"\} (\d+)$/m.exec(metrics)?.[1])
        assert.ok(suspensions >= 3, `${suspensions} suspensions: trials were sent and failed`)
        // As with one process: each failure the clients saw was the one trial that renewed a suspension.
        assert.equal(failures, suspensions - 1, `${failures} failures for ${suspensions - 1} renewed suspensions`)
      })
    } finally {
      await a.close()
      await b.close()
    }
  })

  test('one health checker per leaf, whatever the number of workers', async () => {
    const a = await namedBackend('a')
    const b = await namedBackend('b')
    const check = 'healthCheck: { path: /health, interval: 100ms, timeout: 1s }'
    const group = `{ type: loadbalance, endpoints: [{ type: http, name: a, url: "${a.url}", ${check} }, { type: http, name: b, url: "${b.url}", ${check} }] }`
    try {
      await withGateway('health', 2, group, async () => {
        await new Promise((resolve) => setTimeout(resolve, 1500))
        const since = Date.now() - 1000
        const recent = a.probes.filter((at) => at >= since).length
        // One checker probes about 10 times a second; one per worker would be about 20.
        assert.ok(recent >= 5 && recent <= 12, `${recent} probes of a in the last second`)
      })
    } finally {
      await a.close()
      await b.close()
    }
  })

  test('a client session stays on its backend across connections that land on different workers', async () => {
    const backends = await Promise.all(['a', 'b', 'c'].map((name) => namedBackend(name)))
    const members = backends.map((backend, index) => `{ type: http, name: ${'abc'[index]}, url: "${backend.url}" }`).join(', ')
    // A random first choice: two workers with their own tables would bind most sessions to different backends.
    const group = `{ type: loadbalance, algorithm: powerOfTwoChoices, session: { type: header, name: x-session }, endpoints: [${members}] }`
    try {
      await withGateway('sticky', 2, group, async (base) => {
        for (let session = 0; session < 12; session++) {
          const served = new Set<string>()
          for (let i = 0; i < 6; i++) served.add((await get(`${base}/x`, { 'x-session': `s${session}` })).body)
          assert.equal(served.size, 1, `session s${session} was served by ${[...served].join(', ')}`)
        }
      })
    } finally {
      await Promise.all(backends.map((backend) => backend.close()))
    }
  })
})
