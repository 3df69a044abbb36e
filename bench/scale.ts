// `npm run bench:scale`: a gateway of N APIs of 5 templated resources each (one worker, as an operator starts it),
// measured from outside: time to the first 200 from the middle API, idle RSS, memory per additional API, and
// the time from SIGHUP to a change of one API being served. Prints one JSON line per size, the largest last.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../test/support/net.ts'
import { pathEchoBackend, scaleConfig, until } from './scale-config.ts'

const SIZES = (process.env.BENCH_SCALE_APIS ?? '1,100,1000,5000').split(',').map(Number)
/** How long the gateway idles after its first 200 before its RSS is read. */
const SETTLE_MS = Number(process.env.BENCH_SCALE_SETTLE_MS ?? 2000)
const root = fileURLToPath(new URL('..', import.meta.url))

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024
}

async function measure(apis: number, dir: string, backend: string): Promise<{ start_ms: number; rss_idle_mib: number; reload_one_ms: number }> {
  const port = await freePort()
  const file = join(dir, `scale-${apis}.yaml`)
  await writeFile(file, scaleConfig(apis, port, backend))
  const middle = Math.floor(apis / 2)
  const url = `http://127.0.0.1:${port}/api${middle}/v1/items/7/parts`
  const started = performance.now()
  const child: ChildProcess = spawn(join(root, 'bin/portico'), ['start', '--workers', '1', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PORTICO_LOG_LEVEL: 'warn' } })
  try {
    const first = await until(url, (body) => body === `/svc${middle}/items/7/parts`)
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
    const rss = await rssMiB(child.pid!)
    await writeFile(file, scaleConfig(apis, port, backend, middle))
    const signalled = performance.now()
    child.kill('SIGHUP')
    const applied = await until(url, (body) => body.startsWith(`/svc${middle}-changed/`))
    return { start_ms: Math.round(first - started), rss_idle_mib: Math.round(rss * 10) / 10, reload_one_ms: Math.round(applied - signalled) }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
  }
}

/**
 * The Node floor of `npm run bench` (node:http in, an undici pool out, nothing else) on the same Node, idle after
 * one request, measured as the gateway is: what any Node.js proxy of this shape holds before it does anything more.
 */
async function floorRssMiB(backend: string): Promise<number> {
  const port = await freePort()
  // With the compile cache bin/portico gives the gateway, so that neither carries Node's TypeScript stripper.
  const env = { ...process.env, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'portico-compile-cache') }
  const child = spawn(join(root, 'node_modules/node/bin/node'), [join(root, 'bench/floor.ts'), String(port), backend], { stdio: ['ignore', 'ignore', 'ignore'], env })
  try {
    await until(`http://127.0.0.1:${port}/floor`, (body) => body === '/floor')
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
    return Math.round((await rssMiB(child.pid!)) * 10) / 10
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-scale-'))
  const backend = await pathEchoBackend()
  const backendUrl = backend.url
  try {
    let one: { rss_idle_mib: number } | undefined
    for (const apis of SIZES) {
      const result = await measure(apis, dir, backendUrl)
      one ??= apis === 1 ? result : undefined
      const perApi = one && apis > 1 ? { kib_per_api: Math.round(((result.rss_idle_mib - one.rss_idle_mib) * 1024) / (apis - 1) * 10) / 10 } : {}
      // Beside the one-API gateway: the same Node's least proxy, measured the same way in the same run.
      const floor = apis === 1 ? { floor_rss_idle_mib: await floorRssMiB(backendUrl) } : {}
      console.log(JSON.stringify({ scenario: 'scale', apis, ...result, ...perApi, ...floor }))
    }
  } finally {
    backend.close()
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
