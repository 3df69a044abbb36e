// `npm run bench:instructions [-- SCENARIO...]`: machine instructions per request of Portico and of the Node floor,
// counted by valgrind's callgrind. CPU time on a shared machine moves by a third between runs; the number of
// instructions a process executes for the same requests moves by a few per cent, so a change of that size
// in the gateway's own work shows here where `npm run bench` cannot see it.
//
// For each scenario and each proxy: the proxy runs under `valgrind --tool=callgrind --instr-atstart=no` (JIT and
// pools warm up uninstrumented, which is faster), receives WARMUP requests, then `callgrind_control` turns
// instrumentation on, and WINDOWS windows of exactly REQUESTS requests, one at a time, are counted. Instructions per
// request are the lowest window's total over REQUESTS: everything the process executed in that window
// (its JavaScript, V8's compiler and garbage collector threads, node, libuv and the system call entries; not the
// kernel). The load generator (in this process) and nginx are not counted. Prints one JSON line per scenario.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:http'
import { connect as connectH2 } from 'node:http2'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Pool, type Dispatcher } from 'undici'
import { startNginxBackend } from './nginx.ts'
import { freePort, waitForPort } from '../test/support/net.ts'
import { instructionScenarios, scenarios, type Scenario } from './scenarios.ts'

const REQUESTS = Number(process.env.BENCH_INSTR_REQUESTS ?? 1000)
const WARMUP = Number(process.env.BENCH_INSTR_WARMUP ?? 15000)
const WINDOWS = Number(process.env.BENCH_INSTR_WINDOWS ?? 6)
const ONLY = process.env.BENCH_INSTR_ONLY
/**
 * Under valgrind a process runs some fifty times slower and its threads take turns, so what V8 does by the clock or
 * on a background thread happens at other points in each run: optimizing compilation finished thousands of
 * requests later or sooner, and time-driven collections (the memory reducer, idle-time GC) ran far more often than
 * at full speed. Both proxies run with a garbage collection schedule that depends on allocation only and with
 * optimizing compilation on the main thread, where it ends during the warm-up: the same counts, run after run.
 */
const V8_FLAGS = (process.env.BENCH_INSTR_V8_FLAGS ?? '--predictable-gc-schedule --no-concurrent-recompilation --no-concurrent-osr').split(' ').filter(Boolean)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)
/**
 * Requests in flight while counting. With several, how many a proxy handles per turn of its event loop depends on
 * timing (valgrind's thread switches, the machine's load), and so does its cost per request; one at a time, each
 * request is counted alone, and the count repeats.
 */
const COUNTED_CONNECTIONS = Number(process.env.BENCH_INSTR_CONNECTIONS ?? 1)
const root = fileURLToPath(new URL('..', import.meta.url))

async function main(): Promise<void> {
  const names = process.argv.slice(2)
  const all = [...scenarios, ...instructionScenarios]
  const selected = names.length === 0 ? all.filter((s) => s.name === 'get-small') : names.map((name) => all.find((s) => s.name === name) ?? fail(name, all))
  const dir = await mkdtemp(join(tmpdir(), 'portico-instr-'))
  const children: ChildProcess[] = []
  try {
    const upstream = await startNginxBackend(dir, children)
    const certificate = selected.some((s) => s.transport && s.transport !== 'http') ? makeCertificate(dir) : undefined
    const collector = await startCollector()
    for (const scenario of selected) {
      // BENCH_INSTR_ONLY=portico (or floor) counts one of them, to compare versions of the gateway faster.
      const portico = ONLY === 'floor' ? NaN : await count('portico', scenario, upstream, dir, children, certificate, collector.url)
      const floor = ONLY === 'portico' ? NaN : await count('floor', scenario, upstream, dir, children, certificate, collector.url)
      console.log(
        JSON.stringify({
          scenario: scenario.name,
          requests: REQUESTS,
          portico_instructions_per_req: Math.round(portico),
          floor_instructions_per_req: Math.round(floor),
          instructions_ratio: Math.round((portico / floor) * 100) / 100,
          target: scenario.target,
        }),
      )
    }
    collector.close()
  } finally {
    for (const child of children) child.kill('SIGTERM')
    if (process.env.BENCH_KEEP) console.error(`callgrind dumps kept in ${dir}`)
    else await rm(dir, { recursive: true, force: true })
  }
}

function fail(name: string, all: Scenario[]): never {
  throw new Error(`no scenario named "${name}"; known: ${all.map((s) => s.name).join(', ')}`)
}

/**
 * An OTLP/HTTP receiver that reads each export and answers 200, in this process: what a traced scenario exports to.
 * Its work is not counted, the gateway's exporting is.
 */
async function startCollector(): Promise<{ url: string; close(): void }> {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end())
  })
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${port}/v1/traces`, close: () => server.close() }
}

/** Instructions per request of one proxy for one scenario. */
async function count(which: 'portico' | 'floor', scenario: Scenario, upstream: string, dir: string, children: ChildProcess[], certificate: { cert: string; key: string } | undefined, collector: string): Promise<number> {
  const port = await freePort()
  const transport = scenario.transport ?? 'http'
  let args: string[]
  if (which === 'portico') {
    const config = join(dir, `${scenario.name}.yaml`)
    const tls = transport === 'http' ? '' : `, tls: { certificates: [{ cert: "${certificate!.cert}", key: "${certificate!.key}" }] }`
    await writeFile(
      config,
      `listeners: [{ name: bench, host: 127.0.0.1, port: ${port}${tls} }]
admin: { enabled: false }
limits: { headersTimeout: 60s }
accessLog: { enabled: ${process.env.BENCH_ACCESS_LOG ?? true}, path: "${join(dir, `${scenario.name}-access.log`)}" }
${scenario.config?.() ?? ''}${scenario.telemetry ? `telemetry: ${scenario.telemetry(collector)}\n` : ''}apis:${scenario.apis(upstream)}`,
    )
    args = [join(root, 'src/cli.ts'), 'start', '--config', config, '--workers', '1']
  } else {
    args = [join(root, 'bench/floor.ts'), String(port), upstream, ...(transport === 'http' ? [] : [transport, certificate!.cert, certificate!.key])]
  }
  const out = join(dir, `callgrind-${which}-${scenario.name}`)
  const child = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}.%p`, process.execPath, ...V8_FLAGS, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PORTICO_LOG_LEVEL: 'warn' },
  })
  children.push(child)
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk))
  try {
    await waitForPort(port, 120_000)
    const scheme = transport === 'http' ? 'http' : 'https'
    const url = `${scheme}://127.0.0.1:${port}${which === 'portico' ? scenario.porticoPath : scenario.upstreamPath}`
    const load = transport === 'h2' ? loadH2 : loadHttp1
    await load(url, scenario, WARMUP, CONNECTIONS)
    // Then a quarter as many as they will be counted: V8 optimizes again for what one at a time makes hot.
    await load(url, scenario, Math.ceil(WARMUP / 4), COUNTED_CONNECTIONS)
    callgrindControl(['--instr=on', String(child.pid)])
    // V8 keeps optimizing long after the warm-up, and a window in which it compiles counts its compiler too; the
    // cost only falls as it does. So WINDOWS windows are counted and the lowest is reported: the steady state.
    let lowest = Infinity
    for (let window = 1; window <= WINDOWS; window++) {
      await load(url, scenario, REQUESTS, COUNTED_CONNECTIONS)
      callgrindControl(['--dump', String(child.pid)])
      const perRequest = (await readTotal(join(dir, `callgrind-${which}-${scenario.name}.${child.pid}.${window}`))) / REQUESTS
      process.stderr.write(`${new Date().toISOString()} ${scenario.name} ${which} window ${window}: ${Math.round(perRequest)} instructions per request\n`)
      lowest = Math.min(lowest, perRequest)
    }
    return lowest
  } catch (error) {
    throw new Error(`${which} (${scenario.name}): ${(error as Error).message}\n${stderr.slice(-2000)}`)
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
  }
}

/** The instruction total of one callgrind dump. */
async function readTotal(file: string): Promise<number> {
  const totals = /^(?:summary|totals):\s+(\d+)/m.exec(await readFile(file, 'utf8'))
  if (!totals) throw new Error(`no totals in ${file}`)
  return Number(totals[1])
}

function callgrindControl(args: string[]): void {
  execFileSync('callgrind_control', args, { stdio: 'ignore' })
}

/** Exactly `total` requests over HTTP/1.1 (or HTTPS), `connections` in flight; any status but 2xx fails the run. */
async function loadHttp1(url: string, scenario: Scenario, total: number, connections: number): Promise<void> {
  const target = new URL(url)
  const pool = new Pool(target.origin, { connections, connect: { rejectUnauthorized: false } })
  const path = target.pathname + target.search
  let sent = 0
  const worker = async () => {
    while (sent < total) {
      sent++
      const response = await requestWithRetry(pool, { method: scenario.method, path, headers: scenario.headers ?? {}, body: scenario.body ?? null })
      await response.body.dump({ limit: Infinity })
      if (response.statusCode >= 300) throw new Error(`${url} answered ${response.statusCode}`)
    }
  }
  try {
    await Promise.all(Array.from({ length: connections }, worker))
  } finally {
    await pool.close()
  }
}

/**
 * A request that is sent again when its connection was closed under it (a keep-alive connection the proxy closed
 * as the request went out): the proxy's work on a request it never saw complete is noise, not a failure.
 */
async function requestWithRetry(pool: Pool, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pool.request(options)
    } catch (error) {
      const code = (error as { code?: string }).code
      if (attempt === 3 || (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET')) throw error
    }
  }
}

/** Exactly `total` GETs over HTTP/2, on 4 sessions (as bench/h2-load.ts), `inFlight` streams at a time. */
async function loadH2(url: string, _scenario: Scenario, total: number, inFlight: number): Promise<void> {
  const target = new URL(url)
  const sessions = Array.from({ length: 4 }, () => connectH2(target.origin, { rejectUnauthorized: false }))
  let sent = 0
  const worker = (index: number) =>
    new Promise<void>((resolve, reject) => {
      const next = () => {
        if (sent >= total) return resolve()
        sent++
        const stream = sessions[index % sessions.length]!.request({ ':path': target.pathname + target.search })
        stream.on('response', (headers) => {
          if (Number(headers[':status']) >= 300) reject(new Error(`${url} answered ${headers[':status']}`))
        })
        stream.resume()
        stream.on('end', next)
        stream.on('error', reject)
      }
      next()
    })
  try {
    await Promise.all(Array.from({ length: inFlight }, (_, i) => worker(i)))
  } finally {
    for (const session of sessions) session.destroy()
  }
}

/** A certificate for 127.0.0.1 made for this run, which both proxies serve. */
function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'bench-cert.pem')
  const key = join(dir, 'bench-key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' })
  return { cert, key }
}

await main()
