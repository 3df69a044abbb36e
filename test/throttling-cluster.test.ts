import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { startBackend, type TestBackend } from './support/backend.ts'
import { freePort, startCli, type RunningCli } from './support/cli.ts'
import { get, offer } from './support/offered-load.ts'
import { startPrivateRedis, type PrivateRedis } from './support/redis-server.ts'

/**
 * Limits hold for the whole gateway: real `portico start --workers 2` processes, counting through their primary
 * without Redis, or in a Redis of the test's own shared by two such gateways. Offered load is three times the
 * limit, over whole windows of the clock; a Redis stopped mid-test is met as the config says, and left behind
 * once it answers again.
 */

const run = promisify(execFile)

let dir: string
let backend: TestBackend
let redis: PrivateRedis
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-throttling-'))
  backend = await startBackend((_req, res) => res.end('ok'))
  redis = await startPrivateRedis()
})
after(async () => {
  await redis.stop()
  await backend.close()
  await rm(dir, { recursive: true, force: true })
})

interface Gateway {
  cli: RunningCli
  url: string
  admin: string
  accessLog: string
}

async function startGatewayProcess(name: string, throttling: string, policy: string): Promise<Gateway> {
  const workers = 2
  const [port, adminPort] = [await freePort(), await freePort()]
  const file = join(dir, `${name}.yaml`)
  const accessLog = join(dir, `${name}-access.log`)
  await writeFile(
    file,
    `listeners: [{ name: main, host: 127.0.0.1, port: ${port} }]
admin: { host: 127.0.0.1, port: ${adminPort} }
accessLog: { path: ${accessLog} }
throttling:
${throttling}
apis:
  - name: limited
    context: /limited
    version: v1
    throttling: { policies: [${policy}] }
    endpoints: { production: { type: http, url: "${backend.url}" } }
`,
  )
  const cli = startCli(['start', '--config', file, '--workers', String(workers)])
  await cli.waitForLog('worker serving', workers)
  return { cli, url: `http://127.0.0.1:${port}/limited/v1/item`, admin: `http://127.0.0.1:${adminPort}`, accessLog }
}

async function metric(admin: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`)).text()
  const line = text.split('\n').find((candidate) => pattern.test(candidate))
  return line ? Number(line.split(' ').pop()) : 0
}

/** How long the load runs: ten windows of a per-second limit. */
const SECONDS = 10

describe('throttling across workers and nodes', () => {
  test('--workers 2 without Redis: 3x the limit for 10 s is admitted within ±3 % of the limit, counted in the primary', async () => {
    const limit = 40
    const gateway = await startGatewayProcess('primary', `  policies: [{ name: forty, key: api, limit: { requests: ${limit}, per: second } }]`, 'forty')
    try {
      const counts = await offer([gateway.url], limit * 3, SECONDS)
      const admitted = counts[200] ?? 0
      const error = Math.abs(admitted - limit * SECONDS) / (limit * SECONDS)
      assert.ok(error <= 0.03, `admitted ${admitted} of ${JSON.stringify(counts)}; the limit allows ${limit * SECONDS} (error ${(error * 100).toFixed(1)} %)`)
      assert.ok((counts[429] ?? 0) > limit * SECONDS, 'the rest was refused')
      // The access log names the policy that refused; the metrics count by policy, over both workers.
      await new Promise((resolve) => setTimeout(resolve, 1200))
      const lines = (await readFile(gateway.accessLog, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { status: number; code?: string; policy?: string })
      const refused = lines.filter((line) => line.status === 429)
      assert.ok(refused.length > 0 && refused.every((line) => line.code === 'THROTTLED' && line.policy === 'forty'))
      assert.equal(await metric(gateway.admin, /^portico_throttling_decisions_total\{policy="forty",outcome="allowed"\}/), admitted)
      assert.equal(await metric(gateway.admin, /^portico_throttling_decisions_total\{policy="forty",outcome="refused"\}/), counts[429])
    } finally {
      await gateway.cli.stop()
    }
  })

  test('two gateways with --workers 2 sharing Redis: 3x the limit for 10 s over both is admitted within ±3 %', async () => {
    const limit = 40
    // A command timeout for a busy shared machine: a take past it would be counted on the node (fail-open).
    const throttling = `  redis: { url: "${redis.url}", commandTimeout: 1s }
  policies: [{ name: shared, key: api, limit: { requests: ${limit}, per: second } }]`
    const a = await startGatewayProcess('redis-a', throttling, 'shared')
    const b = await startGatewayProcess('redis-b', throttling, 'shared')
    try {
      const counts = await offer([a.url, b.url], limit * 3, SECONDS)
      const admitted = counts[200] ?? 0
      const error = Math.abs(admitted - limit * SECONDS) / (limit * SECONDS)
      assert.ok(error <= 0.03, `admitted ${admitted} of ${JSON.stringify(counts)}; the limit allows ${limit * SECONDS} (error ${(error * 100).toFixed(1)} %)`)
      const keys = (await run('redis-cli', ['-p', String(redis.port), '--scan', '--pattern', 'portico:rl:*'])).stdout
      assert.match(keys, /portico:rl:limited:v1\|shared\|/, 'the counts were kept in Redis')
      assert.ok(!a.cli.log().includes('unreachable') && !b.cli.log().includes('unreachable'), 'every take was answered by Redis')
    } finally {
      await Promise.all([a.cli.stop(), b.cli.stop()])
    }
  })

  test('Redis stopped mid-test: fail-open counts on the node, fail-closed answers 503, both at once, logged once; counting returns to Redis', async () => {
    const policy = (onStoreFailure: string) => `  redis: { url: "${redis.url}", commandTimeout: 200ms }
  onStoreFailure: ${onStoreFailure}
  policies: [{ name: five, key: api, limit: { requests: 5, per: minute } }]`
    const open = await startGatewayProcess('outage-open', policy('open'), 'five')
    const closed = await startGatewayProcess('outage-closed', policy('closed'), 'five').catch(async (error: unknown) => {
      await open.cli.stop()
      throw error
    })
    const statuses = async (url: string, n: number) => {
      const out: number[] = []
      for (let i = 0; i < n; i++) out.push((await get(url)).status)
      return out
    }
    try {
      // Both gateways count in the one Redis: five for the API, whichever gateway serves (four used here).
      assert.deepEqual([...(await statuses(open.url, 2)), ...(await statuses(closed.url, 2))], [200, 200, 200, 200])

      await redis.stop()
      const during = await Promise.all([get(open.url), get(closed.url)])
      assert.ok(during.every((answer) => answer.ms < 1500), `answers came without waiting on Redis: ${during.map((answer) => answer.ms.toFixed(0)).join(', ')} ms`)
      assert.equal(during[1]!.status, 503)
      assert.equal((JSON.parse(during[1]!.body) as { code: string }).code, 'THROTTLING_UNAVAILABLE')
      // Fail-open counts on this node (its primary), against the same limit: the first request above was one of five.
      assert.deepEqual(await statuses(open.url, 6), [200, 200, 200, 200, 429, 429], 'the per-node fallback limit holds')
      const outageLines = open.cli.log().split('unreachable').length - 1
      assert.ok(outageLines >= 1 && outageLines <= 2, `logged once per worker that met the outage, not per request (${outageLines})`)
      assert.ok((await metric(open.admin, /^portico_throttling_store_errors_total/)) >= 7, 'each failed take is counted')

      await redis.start()
      // A worker notices on its next take: keep asking until one has.
      for (let i = 0; i < 40 && !open.cli.log().includes('answers again'); i++) {
        await get(open.url)
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
      assert.ok(open.cli.log().includes('answers again'), 'the recovery is logged')
      // The restarted Redis is empty: counting there starts again from zero.
      for (let i = 0; i < 40 && (await get(closed.url)).status === 503; i++) await new Promise((resolve) => setTimeout(resolve, 250))
      const keys = (await run('redis-cli', ['-p', String(redis.port), '--scan', '--pattern', 'portico:rl:*'])).stdout
      assert.match(keys, /portico:rl:limited:v1\|five\|/, 'the gateways count in Redis again')
      assert.equal(open.cli.log().split('unreachable').length - 1, outageLines, 'no further outage lines after recovery')
    } finally {
      await Promise.all([open.cli.stop(), closed.cli.stop()])
    }
  })

  test('--workers 2: the maxConcurrent of a leaf holds for the gateway, not per worker, against a slow backend', async () => {
    const seen = { inFlight: 0, most: 0 }
    const slow = await startBackend((_req, res) => {
      seen.inFlight++
      seen.most = Math.max(seen.most, seen.inFlight)
      setTimeout(() => {
        seen.inFlight--
        res.end('slow')
      }, 400)
    })
    const [port, adminPort] = [await freePort(), await freePort()]
    const file = join(dir, 'capacity.yaml')
    await writeFile(
      file,
      `listeners: [{ name: main, host: 127.0.0.1, port: ${port} }]
admin: { host: 127.0.0.1, port: ${adminPort} }
accessLog: { enabled: false }
apis:
  - name: capped
    context: /capped
    version: v1
    resources:
      - { uriTemplate: /now, endpoints: { production: { type: http, url: "${slow.url}", capacity: { maxConcurrent: 2 } } } }
      - { uriTemplate: /queued, endpoints: { production: { type: http, url: "${slow.url}", capacity: { maxConcurrent: 2, queueTimeout: 5s } } } }
`,
    )
    const cli = startCli(['start', '--config', file, '--workers', '2'])
    try {
      await cli.waitForLog('worker serving', 2)
      const base = `http://127.0.0.1:${port}/capped/v1`
      const now = await Promise.all(Array.from({ length: 8 }, () => get(`${base}/now`)))
      const statuses = now.map((answer) => answer.status).sort()
      assert.deepEqual(statuses, [200, 200, 503, 503, 503, 503, 503, 503], 'two at a time for the gateway, though two workers serve')
      assert.equal(seen.most, 2)
      const queued = await Promise.all(Array.from({ length: 6 }, () => get(`${base}/queued`)))
      assert.deepEqual(queued.map((answer) => answer.status), [200, 200, 200, 200, 200, 200], 'each waited its turn in the primary')
      assert.equal(seen.most, 2, 'never more than two at the backend')
    } finally {
      await cli.stop()
      await slow.close()
    }
  })
})
