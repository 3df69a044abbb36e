// `npm run bench:propagation`: how long a deployment takes to reach every node. NODES gateway processes serve one
// PostgreSQL store (a schema of its own, dropped at the end); CHANGES times, a deployment is made through the
// publisher API of the first node, and the clock runs from that call's answer until every node serves the change
// (each node is polled every 2 ms for the backend path the new revision names). Nodes poll the store every 30 s,
// so what is measured is LISTEN/NOTIFY and the swap, not the poll.
// BENCH_APIS other APIs (5 templated resources each) are deployed beside it first, to see a change to one API of
// many; `deploy_call_p50_ms` is how long the deployment call itself took (the store validates and writes the
// environment's next config version in it).
// Prints one JSON line: {"scenario":"propagation","nodes":3,"workers":1,"apis":1,"changes":...,"p50_ms":...,"p99_ms":...,"max_ms":...,"deploy_call_p50_ms":...}.
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { request } from 'undici'
import { ConfigStore, SCOPES } from '../src/store/store.ts'
import { freePort, waitForPort } from '../test/support/net.ts'

const NODES = Number(process.env.BENCH_NODES ?? 3)
const CHANGES = Number(process.env.BENCH_CHANGES ?? 100)
/** Worker processes per node (`--workers`); a node's probes reach the worker their kept-alive connection landed on. */
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1)
const APIS = Number(process.env.BENCH_APIS ?? 0)
const POSTGRES = process.env.PORTICO_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const TARGET_P99_MS = 1000
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

const schema = `portico_bench_${process.pid}`
const url = `${POSTGRES}?schema=${schema}`
const children: ChildProcess[] = []
const backend = createServer((req, res) => res.end(req.url))

async function main(): Promise<void> {
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
  const backendUrl = `http://127.0.0.1:${(backend.address() as { port: number }).port}`
  const store = await ConfigStore.open(url)
  const others = Array.from({ length: APIS }, (_, index) => ({
    name: `other${index}`,
    context: `/other${index}`,
    version: 'v1',
    resources: ['/items', '/items/{id}', '/items/{id}/parts', '/items/{id}/parts/{part}', '/orders/{order}'].map((uriTemplate) => ({ uriTemplate, methods: ['GET'] })),
    endpoints: { production: { type: 'http', url: `${backendUrl}/other${index}` } },
  }))
  await store.apply({ accessLog: { enabled: false }, apis: others }, 'bench')
  const { token } = await store.createToken('bench', SCOPES, 'bench')
  const ports: { port: number; admin: number }[] = []
  for (let i = 0; i < NODES; i++) ports.push({ port: await freePort(), admin: await freePort() })
  for (const { port, admin } of ports) {
    const child = spawn(process.execPath, [cli, 'start', '--store', url, '--port', String(port), '--admin-port', String(admin), '--poll', '30', '--workers', String(WORKERS)], { stdio: 'ignore', env: { ...process.env, PORTICO_LOG_LEVEL: 'warn' } })
    children.push(child)
  }
  for (const { port, admin } of ports) await Promise.all([waitForPort(port), waitForPort(admin)])
  const adminUrl = `http://127.0.0.1:${ports[0]!.admin}/api/v1`
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await request(`${adminUrl}${path}`, { method: method as 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    const answer = (await response.body.json()) as Record<string, unknown>
    if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${JSON.stringify(answer)}`)
    return answer
  }
  const api = await call('POST', '/apis', { name: 'Bench', context: '/bench', version: 'v1', endpoints: { production: { type: 'http', url: `${backendUrl}/change/0` } } })
  await call('POST', `/apis/${api.id}/lifecycle?action=Publish`)
  const serves = async (port: number, path: string) => {
    const response = await request(`http://127.0.0.1:${port}/bench/v1`)
    return response.statusCode === 200 && (await response.body.text()) === path
  }
  const samples: number[] = []
  const calls: number[] = []
  for (let change = 1; change <= CHANGES; change++) {
    const path = `/change/${change}`
    await call('PUT', `/apis/${api.id}/endpoints`, { production: { type: 'http', url: `${backendUrl}${path}` } })
    const revision = await call('POST', `/apis/${api.id}/revisions`)
    const calling = performance.now()
    await call('POST', `/apis/${api.id}/deployments`, { revisionId: revision.id })
    const answered = performance.now()
    calls.push(answered - calling)
    await Promise.all(
      ports.map(async ({ port }) => {
        const deadline = answered + 30_000
        while (!(await serves(port, path))) {
          if (performance.now() > deadline) throw new Error(`node on ${port} did not serve change ${change} within 30 s`)
          await new Promise((resolve) => setTimeout(resolve, 2))
        }
      }),
    )
    samples.push(performance.now() - answered)
    // Revisions are kept; a long run would otherwise only measure a growing history.
  }
  await store.close()
  samples.sort((a, b) => a - b)
  calls.sort((a, b) => a - b)
  const at = (q: number, sorted = samples) => Number(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!.toFixed(1))
  const result = { scenario: 'propagation', nodes: NODES, workers: WORKERS, apis: APIS + 1, changes: CHANGES, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1), deploy_call_p50_ms: at(0.5, calls), target_p99_ms: TARGET_P99_MS }
  process.stderr.write(`propagation over ${NODES} nodes (${WORKERS} worker(s) each), ${CHANGES} deployments: p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms (target < ${TARGET_P99_MS} ms)\n`)
  console.log(JSON.stringify(result))
}

async function cleanUp(): Promise<void> {
  for (const child of children) child.kill('SIGTERM')
  backend.close()
  const client = new pg.Client({ connectionString: POSTGRES })
  await client.connect()
  await client.query(`drop schema if exists ${schema} cascade`)
  await client.end()
}

main().then(
  () => cleanUp(),
  async (error: unknown) => {
    console.error(error instanceof Error ? error.message : error)
    await cleanUp()
    process.exitCode = 1
  },
)
