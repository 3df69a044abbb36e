// `npm run bench`: Portico against the Node floor, same backend, same run, interleaved rounds, pinned CPUs.
// Reports CPU microseconds per request of each proxy process (utime + stime from /proc over requests served),
// which is steadier than requests per second on a shared machine, and the ratio of the two; beside it each
// proxy's p99 latency (wrk), peak RSS (VmHWM) and the connections it opened to nginx after warm-up.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { acceptedConnections, startNginx } from './nginx.ts'
import { freePort, waitForPort } from '../test/support/net.ts'
import { instructionScenarios, scenarios, type Scenario } from './scenarios.ts'
import { ACCURACY, rateLimitAccuracy } from './ratelimit-accuracy.ts'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)
const only = process.argv[2]
const root = fileURLToPath(new URL('..', import.meta.url))
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())

// The proxies share one core; wrk and nginx share the other. On one core everything shares it.
const cores = availableParallelism()
const proxyCpu = ['taskset', '-c', '0']
const loadCpu = ['taskset', '-c', cores > 1 ? '1' : '0']

interface Measure {
  requests: number
  rps: number
  cpuSeconds: number
  p99Ms: number
  /**
   * Connections nginx accepted from the second second of the window until half a second before its end (only the
   * measured proxy sends then): steady load. The first second re-opens what the pool closed while the other proxy
   * ran (an idle keep-alive connection lives 4 s in both) and counts as warm-up. The last half second is left
   * out because the load generator's exit is not steady load: wrk closes its connections with requests in flight,
   * each proxy aborts those requests (as nginx does by default), a connection with a response half read cannot
   * be reused, and the pool opens another at once.
   */
  newUpstreamConns: number
  /** Connections nginx accepted in the first second. */
  reopenedConns: number
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-bench-'))
  const children: ChildProcess[] = []
  const stopAll = () => children.forEach((child) => child.kill('SIGTERM'))
  process.on('SIGINT', () => {
    stopAll()
    process.exit(130)
  })
  try {
    const nginxPort = await freePort()
    const statusPort = await freePort()
    children.push(await startNginx(dir, nginxPort, loadCpu, statusPort))
    await Promise.all([waitForPort(nginxPort), waitForPort(statusPort)])
    const upstream = `http://127.0.0.1:${nginxPort}`
    const collector = await startCollector()

    if (only === ACCURACY) {
      console.log(JSON.stringify(await rateLimitAccuracy(upstream, dir)))
      return
    }
    // The body-size rows run when named (`npm run bench -- get-64k`), not in a full run.
    const selected = only ? [...scenarios, ...instructionScenarios].filter((scenario) => scenario.name === only) : scenarios
    if (selected.length === 0) throw new Error(`no scenario named "${only}"; known: ${[...scenarios, ...instructionScenarios].map((s) => s.name).join(', ')}`)
    const certificate = selected.some((scenario) => scenario.transport === 'tls' || scenario.transport === 'h2') ? makeCertificate(dir) : undefined
    const results = []
    for (const scenario of selected) results.push(await run(scenario, upstream, statusPort, dir, children, collector.url, certificate))
    collector.server.close()
    printTable(results)
    // The headline scenario's line comes last, so a reader of the last line gets it.
    const ordered = [...results.filter((r) => r.scenario !== 'get-small'), ...results.filter((r) => r.scenario === 'get-small')]
    if (!only) console.log(JSON.stringify(await rateLimitAccuracy(upstream, dir)))
    for (const result of ordered) console.log(JSON.stringify(result))
  } finally {
    stopAll()
    await rm(dir, { recursive: true, force: true })
  }
}

/** An OTLP/HTTP receiver that reads each export and answers 200, in this process (not on the proxies' CPU). */
async function startCollector(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end())
  })
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${port}/v1/traces` }
}

async function run(scenario: Scenario, upstream: string, statusPort: number, dir: string, children: ChildProcess[], collector: string, certificate?: { cert: string; key: string }) {
  const porticoPort = await freePort()
  const floorPort = await freePort()
  const config = join(dir, `${scenario.name}.yaml`)
  const transport = scenario.transport ?? 'http'
  const tls = transport === 'http' ? '' : `, tls: { certificates: [{ cert: "${certificate!.cert}", key: "${certificate!.key}" }] }`
  await writeFile(
    config,
    `listeners: [{ name: bench, host: 127.0.0.1, port: ${porticoPort}${tls} }]
admin: { enabled: false }
accessLog: { enabled: ${process.env.BENCH_ACCESS_LOG ?? true}, path: "${join(dir, `${scenario.name}-access.log`)}" }
${scenario.config?.() ?? ''}${scenario.telemetry ? `telemetry: ${scenario.telemetry(collector)}\n` : ''}apis:${scenario.apis(upstream)}`,
  )
  const portico = spawnProxy([join(root, 'bin/portico'), 'start', '--config', config, '--workers', '1'], { PORTICO_LOG_LEVEL: 'warn' })
  const floorArgs = transport === 'http' ? [] : [transport, certificate!.cert, certificate!.key]
  const floor = spawnProxy([process.execPath, join(root, 'bench/floor.ts'), String(floorPort), upstream, ...floorArgs], {})
  // A traced scenario also measures the floor making the SDK's two spans of a traced request (bench/floor-spans.ts):
  // what tracing with the official SDK costs before anything of the gateway's own.
  const sdkFloorPort = scenario.telemetry && transport === 'http' ? await freePort() : undefined
  const sdkFloor = sdkFloorPort === undefined ? undefined : spawnProxy([process.execPath, join(root, 'bench/floor.ts'), String(sdkFloorPort), upstream], { FLOOR_SDK_SPANS: '1' })
  children.push(portico, floor, ...(sdkFloor ? [sdkFloor] : []))
  await Promise.all([waitForPort(porticoPort), waitForPort(floorPort), ...(sdkFloorPort === undefined ? [] : [waitForPort(sdkFloorPort)])])

  const script = join(dir, `${scenario.name}.lua`)
  await writeFile(script, wrkScript(scenario))
  const scheme = transport === 'http' ? 'http' : 'https'
  const targets = {
    portico: { process: portico, url: `${scheme}://127.0.0.1:${porticoPort}${scenario.porticoPath}` },
    floor: { process: floor, url: `${scheme}://127.0.0.1:${floorPort}${scenario.upstreamPath}` },
    ...(sdkFloor ? { sdkFloor: { process: sdkFloor, url: `http://127.0.0.1:${sdkFloorPort}${scenario.upstreamPath}` } } : {}),
  }
  const names = Object.keys(targets) as (keyof typeof targets)[]
  const load = transport === 'h2' ? runH2Load : runWrk
  // Warm up each (JIT, pools) before anything counts.
  for (const target of Object.values(targets)) await measure(target.process, target.url, script, 2, load, statusPort)

  const totals = { portico: [] as Measure[], floor: [] as Measure[], sdkFloor: [] as Measure[] }
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate which goes first so drift on the machine hits each alike.
    const order = names.map((_, i) => names[(i + round) % names.length]!)
    for (const name of order) totals[name].push(await measure(targets[name]!.process, targets[name]!.url, script, SECONDS, load, statusPort))
    const sdk = sdkFloor ? ` | floor with SDK spans ${fmt(totals.sdkFloor.at(-1)!)}` : ''
    process.stderr.write(`${scenario.name} round ${round + 1}/${ROUNDS}: portico ${fmt(totals.portico.at(-1)!)} | floor ${fmt(totals.floor.at(-1)!)}${sdk}\n`)
  }
  const rss = { portico: await peakRssMiB(portico.pid!), floor: await peakRssMiB(floor.pid!) }
  portico.kill('SIGTERM')
  floor.kill('SIGTERM')
  sdkFloor?.kill('SIGTERM')

  const cpuPerRequest = (measures: Measure[]) =>
    (measures.reduce((sum, m) => sum + m.cpuSeconds, 0) * 1e6) / measures.reduce((sum, m) => sum + m.requests, 0)
  const portico_cpu_us_per_req = round1(cpuPerRequest(totals.portico))
  const floor_cpu_us_per_req = round1(cpuPerRequest(totals.floor))
  const p99 = { portico: median(totals.portico.map((m) => m.p99Ms)), floor: median(totals.floor.map((m) => m.p99Ms)) }
  const newConns = (measures: Measure[]) => measures.reduce((sum, m) => sum + m.newUpstreamConns, 0)
  return {
    scenario: scenario.name,
    portico_rps: Math.round(median(totals.portico.map((m) => m.rps))),
    floor_rps: Math.round(median(totals.floor.map((m) => m.rps))),
    portico_cpu_us_per_req,
    floor_cpu_us_per_req,
    cpu_ratio: Math.round((portico_cpu_us_per_req / floor_cpu_us_per_req) * 100) / 100,
    target: scenario.target,
    // Median over rounds of each round's p99.
    p99_ms: { portico: round2(p99.portico), floor: round2(p99.floor) },
    p99_ratio: Math.round((p99.portico / p99.floor) * 100) / 100,
    rss_mib: rss,
    // Summed over the measured rounds, each from its first second to its last half second (see Measure).
    new_upstream_conns: { portico: newConns(totals.portico), floor: newConns(totals.floor) },
    // Traced scenarios: the floor with the SDK's two spans, and its CPU per request over the floor's.
    ...(sdkFloor
      ? {
          sdk_floor_cpu_us_per_req: round1(cpuPerRequest(totals.sdkFloor)),
          sdk_floor_ratio: Math.round((cpuPerRequest(totals.sdkFloor) / cpuPerRequest(totals.floor)) * 100) / 100,
        }
      : {}),
  }
}

/** Portico starts as it ships, through `bin/portico` (with its Node options); the floor on plain `node`. */
function spawnProxy(commandLine: string[], env: Record<string, string>): ChildProcess {
  const [command, ...rest] = [...proxyCpu, ...commandLine]
  return spawn(command!, rest, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } })
}

type Load = (url: string, script: string, seconds: number) => Promise<string>

/**
 * Runs the load (wrk, or h2-load for HTTP/2) against `url` for `seconds`, and reads the proxy's CPU time and the
 * backend's accepted connections around it.
 */
async function measure(proxy: ChildProcess, url: string, script: string, seconds: number, load: Load, statusPort: number): Promise<Measure> {
  const acceptedBefore = await acceptedConnections(statusPort)
  const before = await cpuSeconds(proxy.pid!)
  const running = load(url, script, seconds)
  const acceptedAt = (ms: number) => new Promise<number>((resolve, reject) => setTimeout(() => acceptedConnections(statusPort).then(resolve, reject), ms))
  const warmedUp = acceptedAt(1000)
  const steadyEnd = acceptedAt(Math.max(1000, seconds * 1000 - 500))
  const output = await running
  const after = await cpuSeconds(proxy.pid!)
  const acceptedAfterWarmUp = await warmedUp
  // Each read of the counter opens one connection itself, counted in the value it returns.
  const reopenedConns = acceptedAfterWarmUp - acceptedBefore - 1
  const newUpstreamConns = (await steadyEnd) - acceptedAfterWarmUp - 1
  const requests = Number(/(\d+) requests in/.exec(output)?.[1])
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1])
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(output)
  if (errors) throw new Error(`wrk saw failures against ${url}; a benchmark of errors means nothing:\n${output}`)
  const p99Ms = latencyMs(/^\s*99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(output))
  if (!requests || !rps || p99Ms === undefined) throw new Error(`could not read wrk's output:\n${output}`)
  return { requests, rps, cpuSeconds: after - before, p99Ms, newUpstreamConns, reopenedConns }
}

function runWrk(url: string, script: string, seconds: number): Promise<string> {
  return runLoad([...loadCpu, 'wrk', '-t1', '--latency', `-c${CONNECTIONS}`, `-d${seconds}s`, '-s', script, url])
}

/**
 * The same number of requests in flight as wrk's connections, as HTTP/2 streams on BENCH_H2_SESSIONS connections
 * (default 4). Only GET without headers: what the h2 scenarios send.
 */
function runH2Load(url: string, _script: string, seconds: number): Promise<string> {
  const sessions = Number(process.env.BENCH_H2_SESSIONS ?? 4)
  const streams = Math.max(1, Math.round(CONNECTIONS / sessions))
  return runLoad([...loadCpu, process.execPath, join(root, 'bench/h2-load.ts'), url, String(seconds), String(sessions), String(streams)])
}

function runLoad([command, ...args]: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command === 'taskset' ? args[2] : command} exited with ${code}:\n${output}`))))
  })
}

/** A wrk latency (`812.00us`, `1.23ms`, `1.01s`) in milliseconds. */
function latencyMs(match: RegExpExecArray | null): number | undefined {
  if (!match) return undefined
  const scale = { us: 1e-3, ms: 1, s: 1e3 }[match[2] as 'us' | 'ms' | 's']
  return Number(match[1]) * scale
}

/** The most memory a process has had resident so far (VmHWM of /proc/PID/status), in MiB. */
async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]
  if (kib === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`)
  return Math.round(Number(kib) / 1024)
}

/** utime + stime of a process, from /proc/PID/stat (fields 14 and 15, counted after the command name). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/** A certificate for 127.0.0.1 made for this run, which both proxies serve. */
function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'bench-cert.pem')
  const key = join(dir, 'bench-key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' })
  return { cert, key }
}

function wrkScript(scenario: Scenario): string {
  const lines = [`wrk.method = ${JSON.stringify(scenario.method)}`]
  for (const [name, value] of Object.entries(scenario.headers ?? {})) lines.push(`wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`)
  if (scenario.body !== undefined) lines.push(`wrk.body = ${JSON.stringify(scenario.body)}`)
  return lines.join('\n') + '\n'
}

type Result = Awaited<ReturnType<typeof run>>

function printTable(results: Result[]): void {
  const columns: Array<[string, (r: Result) => string | number]> = [
    ['scenario', (r) => r.scenario],
    ['portico_rps', (r) => r.portico_rps],
    ['floor_rps', (r) => r.floor_rps],
    ['portico_cpu_us_per_req', (r) => r.portico_cpu_us_per_req],
    ['floor_cpu_us_per_req', (r) => r.floor_cpu_us_per_req],
    ['cpu_ratio', (r) => r.cpu_ratio],
    ['target', (r) => r.target],
    ['p99_ms portico/floor', (r) => `${r.p99_ms.portico}/${r.p99_ms.floor}`],
    ['p99_ratio', (r) => r.p99_ratio],
    ['rss_mib portico/floor', (r) => `${r.rss_mib.portico}/${r.rss_mib.floor}`],
    ['new_upstream_conns portico/floor', (r) => `${r.new_upstream_conns.portico}/${r.new_upstream_conns.floor}`],
  ]
  const cells = results.map((result) => columns.map(([, read]) => String(read(result))))
  const widths = columns.map(([name], i) => Math.max(name.length, ...cells.map((row) => row[i]!.length)))
  const row = (values: string[]) => values.map((value, i) => value.padEnd(widths[i]!)).join('  ')
  console.log(row(columns.map(([name]) => name)))
  for (const values of cells) console.log(row(values))
}

const fmt = (m: Measure) =>
  `${Math.round(m.rps)} rps, ${round1((m.cpuSeconds * 1e6) / m.requests)} µs/req, p99 ${m.p99Ms} ms, upstream conns opened ${m.reopenedConns} in the first second, ${m.newUpstreamConns} after`
const round1 = (n: number) => Math.round(n * 10) / 10
const round2 = (n: number) => Math.round(n * 100) / 100
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

await main()
