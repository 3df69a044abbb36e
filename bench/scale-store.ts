// `npm run bench:scale-store`: bench:scale's gateway of N APIs, served from a config store (PostgreSQL by default,
// in a schema of its own; BENCH_STORE=sqlite for SQLite), one node that also serves the publisher API. Measures, from
// outside, changes of one API through the publisher API: its endpoint changed and a revision made (`edit_ms`), the
// revision deployed (`deploy_call_ms`: the store checks the environment's new config and commits it as a version),
// and from that call to the first response from the new endpoint (`deploy_one_ms`: the node, told by PostgreSQL's
// notification, reads the version and swaps it in). Prints one JSON line per size, with each figure's median and
// range over BENCH_SCALE_CHANGES changes.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../test/support/net.ts'
import { PublisherClient } from '../test/support/publisher-client.ts'
import { freshStore } from '../test/support/stores.ts'
import { pathEchoBackend, scaleConfig, until } from './scale-config.ts'

const SIZES = (process.env.BENCH_SCALE_APIS ?? '1,5000').split(',').map(Number)
/** The engine; PostgreSQL is the tests' (PORTICO_TEST_POSTGRES, by default postgres://postgres@127.0.0.1:5432/test). */
const ENGINE = process.env.BENCH_STORE === 'sqlite' ? 'sqlite' : 'postgres'
/** Changes measured per size; the median is printed beside the range. */
const CHANGES = Number(process.env.BENCH_SCALE_CHANGES ?? 5)
const root = fileURLToPath(new URL('..', import.meta.url))
const portico = join(root, 'bin/portico')

function run(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(portico, args, { stdio: ['ignore', 'ignore', 'inherit'] })
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`portico ${args[0]} exited with ${code}`))))
  })
}

/** Starts a store node and returns it with the admin token it prints on a new store's first start. */
async function startNode(url: string, port: number, adminPort: number, data: string): Promise<{ child: ChildProcess; token: string }> {
  const child = spawn(portico, ['start', '--store', url, '--port', String(port), '--admin-port', String(adminPort), '--data', data], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PORTICO_LOG_LEVEL: 'error' } })
  let output = ''
  const token = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const found = /Admin token \(shown once, keep it\): (\S+)/.exec(output)
      if (found) resolve(found[1]!)
    })
    child.once('exit', (code) => reject(new Error(`the node exited with ${code} before printing its admin token`)))
  })
  child.stdout!.resume()
  return { child, token }
}

async function measure(apis: number, dir: string, backend: string): Promise<Record<string, unknown>> {
  const [port, adminPort] = [await freePort(), await freePort()]
  const store = freshStore(ENGINE)
  const node = await startNode(store.url, port, adminPort, join(dir, `data-${apis}`))
  try {
    const file = join(dir, `scale-store-${apis}.yaml`)
    await writeFile(file, scaleConfig(apis, port, backend, undefined, { admin: true }))
    await run(['apply', '-f', file, '--store', store.url])
    const middle = Math.floor(apis / 2)
    const url = `http://127.0.0.1:${port}/api${middle}/v1/items/7/parts`
    await until(url, (body) => body === `/svc${middle}/items/7/parts`)
    const publisher = new PublisherClient(`http://127.0.0.1:${adminPort}`, node.token)
    const found = (await publisher.call('GET', `/apis?query=name:api${middle}&limit=5`)) as { list: { id: string; name: string }[] }
    const id = found.list.find((api) => api.name === `api${middle}`)!.id
    const edit: number[] = []
    const deployCall: number[] = []
    const served: number[] = []
    for (let change = 1; change <= CHANGES; change++) {
      const started = performance.now()
      await publisher.call('PUT', `/apis/${id}/endpoints`, { production: { type: 'http', url: `${backend}/svc${middle}-change${change}` } })
      const revision = await publisher.call('POST', `/apis/${id}/revisions`)
      const deploying = performance.now()
      edit.push(deploying - started)
      await publisher.call('POST', `/apis/${id}/deployments`, { revisionId: revision.id })
      deployCall.push(performance.now() - deploying)
      await until(url, (body) => body.startsWith(`/svc${middle}-change${change}/`), Date.now() + 30_000, 1)
      served.push(performance.now() - deploying)
      // Apart, as an operator's deployments are: the node also records what it applied.
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
    return { edit_ms: summary(edit), deploy_call_ms: summary(deployCall), deploy_one_ms: summary(served) }
  } finally {
    node.child.kill('SIGTERM')
    await new Promise((resolve) => node.child.once('exit', resolve))
    await store.drop()
  }
}

/** The median and the range of `values`, in whole milliseconds. */
function summary(values: number[]): { median: number; min: number; max: number } {
  const sorted = values.map(Math.round).sort((a, b) => a - b)
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)! }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-scale-store-'))
  const backend = await pathEchoBackend()
  try {
    for (const apis of SIZES) console.log(JSON.stringify({ scenario: 'scale-store', apis, store: ENGINE, ...(await measure(apis, dir, backend.url)) }))
  } finally {
    backend.close()
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
