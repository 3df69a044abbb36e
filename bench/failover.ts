// `npm run bench:failover`: one chaos scenario against Portico, nginx and HAProxy in turn, each balancing round
// robin over the same three Node backends (bench/chaos-backend.ts) on 127.0.0.1 under steady wrk load. With
// BENCH_FAILOVER_RATE, hey offers a fixed rate instead and the Node floor runs last as a reference (see `floor`).
//
// Timeline of each run (seconds after wrk starts, DURATION_S of load):
//   t=5   backend B hangs (SIGSTOP: the kernel still accepts connections, nothing answers) until the end
//   t=10  backend A is killed (SIGKILL)
//   t=20  backend A is started again on the same port
//   C stays healthy throughout.
// Reported per proxy: requests, requests per second, client-visible errors (non-2xx/3xx responses and wrk's
// socket errors, timeouts included) and recovery_s: from A listening again to A's first proxied request.
// Exits non-zero only when a proxy or a backend cannot be started; a missed target is printed, not fatal.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, waitForPort } from '../test/support/net.ts'

const DURATION_S = 30
const HANG_B_AT_S = 5
const KILL_A_AT_S = 10
const RESTART_A_AT_S = 20
const CONNECTIONS = 16
/**
 * `BENCH_FAILOVER_RATE=3000`: `hey` offers that many requests per second in all (a share per connection) instead
 * of wrk's as-fast-as-it-can, so that p99 during the chaos compares proxies at the same load (issue 19).
 */
const RATE = Number(process.env.BENCH_FAILOVER_RATE ?? 0)
const HEALTH_CHECK_INTERVAL_S = 1
/** Every proxy's timeout for a backend's response (and for a connection); the slowest request should wait about one. */
const RESPONSE_TIMEOUT_MS = 1_000
/** The slowest request's target: one response timeout and this much more (issue 19). */
const SLOWEST_MARGIN_MS = 100
const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * Every child process still alive, with the signal that ends it, so that any exit (error, SIGINT) takes them
 * down: SIGTERM for the proxies (nginx's master then stops its worker), SIGKILL for backends and wrk.
 */
const children = new Map<ChildProcess, NodeJS.Signals>()

function track(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): ChildProcess {
  children.set(child, signal)
  child.once('exit', () => children.delete(child))
  return child
}

function killAll(): void {
  for (const [child, signal] of children) {
    try {
      child.kill('SIGCONT') // a stopped backend
      child.kill(signal)
    } catch {}
  }
}

process.on('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll()
    process.exit(130)
  })
}

// --- backends ---------------------------------------------------------------------------------------------

interface Backend {
  name: string
  port: number
  child: ChildProcess
  listeningAt: number
  /** Epoch ms of the first request that was not a health check, once there was one. */
  firstAt?: number
}

/** Starts bench/chaos-backend.ts on `port` and resolves once it listens. */
function startBackend(name: string, port: number): Promise<Backend> {
  const child = track(spawn(process.execPath, [join(root, 'bench/chaos-backend.ts'), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] }))
  return new Promise((resolve, reject) => {
    let backend: Backend | undefined
    let buffered = ''
    const timer = setTimeout(() => reject(new Error(`backend ${name} did not listen on 127.0.0.1:${port} within 10 s`)), 10_000)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (!backend) reject(new Error(`backend ${name} (port ${port}) exited before listening (${code ?? signal})`))
    })
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk
      let newline
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const [event, at] = buffered.slice(0, newline).split(' ')
        buffered = buffered.slice(newline + 1)
        if (event === 'listening' && !backend) {
          clearTimeout(timer)
          backend = { name, port, child, listeningAt: Number(at) }
          resolve(backend)
        } else if (event === 'first' && backend) backend.firstAt = Number(at)
      }
    })
  })
}

/** Sends `signal` (after SIGCONT, for a stopped process) and waits for the exit, SIGKILL after 3 s. */
async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGCONT')
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
  await exited
  clearTimeout(timer)
}

// --- proxies ----------------------------------------------------------------------------------------------

interface Proxy {
  name: 'portico' | 'nginx' | 'haproxy' | 'floor'
  /** The backends it sends to: all three, or only C for the reference that balances nothing. */
  backends?: 'C'
  /** Writes the config into `dir` and starts the proxy on `port` in front of `backendPorts`, output to `log`. */
  start(dir: string, port: number, backendPorts: number[], log: string): Promise<ChildProcess>
  /** The path wrk requests; it reaches the backends as /small. */
  path: string
}

function porticoConfig(port: number, backendPorts: number[]): string {
  const leaf = (name: string, backendPort: number) => `
          - type: http
            name: ${name}
            url: "http://127.0.0.1:${backendPort}"
            timeouts: { connect: ${RESPONSE_TIMEOUT_MS}ms, response: ${RESPONSE_TIMEOUT_MS}ms }
            suspendOnFailure: { initialDuration: 5s, progressionFactor: 2, maximumDuration: 30s }
            healthCheck: { path: /health, interval: ${HEALTH_CHECK_INTERVAL_S}s, timeout: 500ms, healthyThreshold: 1, unhealthyThreshold: 1 }`
  return `# npm run bench:failover: Portico's side of the chaos scenario (bench/README.md).
listeners: [{ name: chaos, host: 127.0.0.1, port: ${port} }]
admin: { enabled: false }
accessLog: { enabled: false }
apis:
  - name: Chaos
    context: /chaos
    version: 1.0.0
    resources: [{ uriTemplate: /small, methods: [GET] }]
    endpoints:
      production:
        type: loadbalance
        name: chaos
        algorithm: roundRobin
        endpoints:${backendPorts.map((backendPort, i) => leaf(`backend-${'abc'[i]}`, backendPort)).join('')}
`
}

const portico: Proxy = {
  name: 'portico',
  path: '/chaos/1.0.0/small',
  async start(dir, port, backendPorts, log) {
    const config = join(dir, 'portico.yaml')
    await writeFile(config, porticoConfig(port, backendPorts))
    // As it ships: bin/portico, with its Node options.
    const bin = join(root, 'bin/portico')
    const validate = spawnSync(bin, ['validate', config], { encoding: 'utf8' })
    if (validate.status !== 0) throw new Error(`portico validate rejected the benchmark's config:\n${validate.stdout}${validate.stderr}`)
    // info: the event log's state changes of each leaf end up in the log (BENCH_KEEP=1 keeps it).
    return spawnLogged(bin, ['start', '--config', config, '--workers', '1'], log, { PORTICO_LOG_LEVEL: 'info' })
  },
}

const nginx: Proxy = {
  name: 'nginx',
  path: '/small',
  async start(dir, port, backendPorts, log) {
    const temp = (name: string) => `${name} ${join(dir, `nginx-${name}`)};`
    const config = join(dir, 'nginx.conf')
    await writeFile(
      config,
      `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  ${temp('client_body_temp_path')} ${temp('proxy_temp_path')} ${temp('fastcgi_temp_path')} ${temp('uwsgi_temp_path')} ${temp('scgi_temp_path')}
  upstream chaos {
${backendPorts.map((backendPort) => `    server 127.0.0.1:${backendPort} max_fails=1 fail_timeout=${HEALTH_CHECK_INTERVAL_S}s;`).join('\n')}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://chaos;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_502 http_503 http_504;
      proxy_connect_timeout ${RESPONSE_TIMEOUT_MS}ms;
      proxy_send_timeout ${RESPONSE_TIMEOUT_MS}ms;
      proxy_read_timeout ${RESPONSE_TIMEOUT_MS}ms;
    }
  }
}
`,
    )
    return spawnLogged('nginx', ['-c', config, '-p', dir], log)
  },
}

const haproxy: Proxy = {
  name: 'haproxy',
  path: '/small',
  async start(dir, port, backendPorts, log) {
    const config = join(dir, 'haproxy.cfg')
    await writeFile(
      config,
      `global
  maxconn 1024
defaults
  mode http
  timeout connect ${RESPONSE_TIMEOUT_MS}ms
  timeout client 30s
  timeout server ${RESPONSE_TIMEOUT_MS}ms
  timeout check 500ms
  retries 3
  option redispatch
  # Like nginx's proxy_next_upstream: a GET that timed out or got a 5xx goes on to another server.
  retry-on conn-failure empty-response response-timeout 502 503 504
frontend chaos
  bind 127.0.0.1:${port}
  default_backend chaos
backend chaos
  balance roundrobin
  option httpchk GET /health
${backendPorts.map((backendPort, i) => `  server backend-${'abc'[i]} 127.0.0.1:${backendPort} check inter ${HEALTH_CHECK_INTERVAL_S}s fall 1 rise 1`).join('\n')}
`,
    )
    return spawnLogged('haproxy', ['-db', '-f', config], log)
  },
}

/**
 * With a fixed rate only: not a balancer but a reference, the Node floor of `npm run bench` (bench/floor.ts) in
 * front of backend C alone, which stays healthy, through the same timeline. Its p99 is what a minimal Node proxy
 * answers in at this rate on this machine while the chaos goes on beside it: the part of Portico's p99 that is
 * Node's rather than Portico's.
 */
const floor: Proxy = {
  name: 'floor',
  path: '/small',
  backends: 'C',
  async start(_dir, port, backendPorts, log) {
    return spawnLogged(process.execPath, [join(root, 'bench/floor.ts'), String(port), `http://127.0.0.1:${backendPorts[2]}`], log)
  },
}

/** Spawns a proxy with its stdout and stderr going to `logFile` (read back when something goes wrong). */
function spawnLogged(command: string, args: string[], logFile: string, env: Record<string, string> = {}): ChildProcess {
  const shell = ['-c', 'exec "$@" >"$LOG" 2>&1', 'sh', command, ...args]
  return track(spawn('sh', shell, { stdio: 'ignore', env: { ...process.env, ...env, LOG: logFile } }), 'SIGTERM')
}

/** Waits until the proxy answers 200 and every backend has served at least one proxied request. */
async function waitUntilServing(proxy: ChildProcess, url: string, backends: Backend[], logFile: string): Promise<void> {
  const serving = backends.length === 1 ? 'backend C' : 'all three backends'
  const deadline = Date.now() + 15_000
  let last = ''
  while (Date.now() < deadline) {
    if (proxy.exitCode !== null || proxy.signalCode !== null) break
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      await response.arrayBuffer()
      last = `status ${response.status}`
      if (response.ok && backends.every((backend) => backend.firstAt !== undefined)) return
    } catch (error) {
      last = String(error)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const log = await readFile(logFile, 'utf8').catch(() => '')
  throw new Error(`${url} did not serve through ${serving} within 15 s (last: ${last})\n${log.slice(-3000)}`)
}

// --- load and chaos ---------------------------------------------------------------------------------------

/** Counts responses by status in wrk's Lua (one thread), printed after wrk's own summary as `statuses {...}`. */
const WRK_SCRIPT = `local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local parts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do table.insert(parts, '"' .. status .. '":' .. count) end
  end
  io.write("statuses {" .. table.concat(parts, ",") .. "}\\n")
end
`

interface Result {
  proxy: string
  requests: number
  rps: number
  errors: number
  non2xx: number
  socketErrors: string
  statuses: string
  /** wrk's longest request: what a request caught on the hung backend waited before it was sent on. */
  max: string
  /** The same in milliseconds. */
  maxMs: number
  /** The 99th percentile of latency, in milliseconds. */
  p99Ms: number
  recovery_s: number | null
}

async function runOne(proxy: Proxy, dir: string, backendPorts: number[], script: string): Promise<Result> {
  const names = ['A', 'B', 'C']
  const backends = await Promise.all(backendPorts.map((port, i) => startBackend(names[i]!, port)))
  const port = await freePort()
  const logFile = join(dir, `${proxy.name}.log`)
  let child: ChildProcess | undefined
  try {
    child = await proxy.start(dir, port, backendPorts, logFile)
    await waitForPort(port, 15_000).catch(async (error) => {
      throw new Error(`${proxy.name} did not start: ${error.message}\n${(await readFile(logFile, 'utf8').catch(() => '')).slice(-3000)}`)
    })
    const url = `http://127.0.0.1:${port}${proxy.path}`
    await waitUntilServing(child, url, proxy.backends === 'C' ? [backends[2]!] : backends, logFile)
    // Let the first round of health checks settle so that every proxy starts from three healthy backends.
    await new Promise((resolve) => setTimeout(resolve, 1_500))

    const [a, b] = backends as [Backend, Backend, Backend]
    let restarted: Backend | undefined
    let chaosError: unknown
    const start = Date.now()
    const note = (what: string) => process.stderr.write(`  t=${((Date.now() - start) / 1000).toFixed(2)}s ${what}\n`)
    const at = (seconds: number, action: () => void | Promise<void>) =>
      new Promise<void>((resolve) =>
        setTimeout(
          async () => {
            try {
              await action()
            } catch (error) {
              chaosError ??= error
            }
            resolve()
          },
          Math.max(0, start + seconds * 1000 - Date.now()),
        ),
      )
    const load = RATE > 0 ? runHey(url) : runWrk(url, script)
    const chaos = Promise.all([
      at(HANG_B_AT_S, () => {
        b.child.kill('SIGSTOP')
        note('B stopped (SIGSTOP)')
      }),
      at(KILL_A_AT_S, async () => {
        await stop(a.child)
        note('A killed (SIGKILL)')
      }),
      at(RESTART_A_AT_S, async () => {
        const backend = await startBackend('A', a.port)
        restarted = backend
        note('A listening again')
        backend.child.stdout!.on('data', () => backend.firstAt !== undefined && note(`A's first proxied request, ${backend.firstAt - backend.listeningAt} ms after it listened`))
      }),
    ])
    const [output] = await Promise.all([load, chaos])
    if (chaosError) throw chaosError
    process.stderr.write(`--- ${proxy.name}: ${RATE > 0 ? 'hey' : 'wrk'} output\n${output}`)
    return {
      proxy: proxy.name,
      ...(RATE > 0 ? readHey(output) : readWrk(output)),
      recovery_s: restarted?.firstAt !== undefined ? Math.round((restarted.firstAt - restarted.listeningAt) / 10) / 100 : null,
    }
  } finally {
    // Fresh backends for the next proxy: B continued and killed, A (restarted or not) and C killed.
    if (child) await stop(child, 'SIGTERM')
    for (const [other, signal] of [...children]) await stop(other, signal)
  }
}

type LoadFigures = Omit<Result, 'proxy' | 'recovery_s'>

function readWrk(output: string): LoadFigures {
  const requests = Number(/(\d+) requests in/.exec(output)?.[1])
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1])
  if (!Number.isFinite(requests) || !Number.isFinite(rps)) throw new Error(`could not read wrk's output:\n${output}`)
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output)
  const socketCounts = socket ? socket.slice(1).map(Number) : [0, 0, 0, 0]
  const latency = /Latency\s+\S+\s+\S+\s+(\S+)/.exec(output)
  const p99 = /^\s+99%\s+(\S+)/m.exec(output)
  return {
    requests,
    rps: Math.round(rps),
    errors: non2xx + socketCounts.reduce((sum, n) => sum + n, 0),
    non2xx,
    socketErrors: `c${socketCounts[0]} r${socketCounts[1]} w${socketCounts[2]} t${socketCounts[3]}`,
    statuses: /statuses (\{.*\})/.exec(output)?.[1] ?? '{}',
    max: latency?.[1] ?? '?',
    maxMs: latency ? wrkMilliseconds(latency[1]!) : NaN,
    p99Ms: p99 ? wrkMilliseconds(p99[1]!) : NaN,
  }
}

/** hey's summary: `Slowest: 1.0123 secs`, `99% in 0.0060 secs`, `[200] 89973 responses`, `[12] Get "…": …` errors. */
function readHey(output: string): LoadFigures {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1])
  const slowest = Number(/Slowest:\s+([\d.]+) secs/.exec(output)?.[1])
  const p99 = Number(/99% in ([\d.]+) secs/.exec(output)?.[1])
  if (!Number.isFinite(rps) || !Number.isFinite(slowest)) throw new Error(`could not read hey's output:\n${output}`)
  const statuses: Record<string, number> = {}
  for (const [, status, count] of output.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)) statuses[status!] = Number(count)
  const errorSection = output.split('Error distribution:')[1] ?? ''
  const socketErrors = [...errorSection.matchAll(/^\s+\[(\d+)\]/gm)].reduce((sum, [, count]) => sum + Number(count), 0)
  const non2xx = Object.entries(statuses).reduce((sum, [status, count]) => (Number(status) >= 400 ? sum + count : sum), 0)
  const ms = (seconds: number) => Math.round(seconds * 10_000) / 10
  return {
    requests: Object.values(statuses).reduce((sum, count) => sum + count, 0) + socketErrors,
    rps: Math.round(rps),
    errors: non2xx + socketErrors,
    non2xx,
    socketErrors: String(socketErrors),
    statuses: JSON.stringify(statuses),
    max: `${slowest}s`,
    maxMs: ms(slowest),
    p99Ms: ms(p99),
  }
}

/** `hey` offering RATE requests per second over CONNECTIONS connections for DURATION_S, with wrk's timeout. */
function runHey(url: string): Promise<string> {
  const args = ['-z', `${DURATION_S}s`, '-c', String(CONNECTIONS), '-q', String(RATE / CONNECTIONS), '-t', '5', url]
  return new Promise((resolve, reject) => {
    const child = track(spawn('hey', args, { stdio: ['ignore', 'pipe', 'inherit'] }))
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`hey exited with ${code}:\n${output}`))))
  })
}

/** wrk's latency as it prints it (`812.34us`, `1.50s`, `1.02m`) in milliseconds. */
function wrkMilliseconds(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text)
  if (!match) return NaN
  const unit = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm']
  return Math.round(Number(match[1]) * unit * 10) / 10
}

function runWrk(url: string, script: string): Promise<string> {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${DURATION_S}s`, '--timeout', '5s', '--latency', '-s', script, url]
  return new Promise((resolve, reject) => {
    const child = track(spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] }))
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`wrk exited with ${code}:\n${output}`))))
  })
}

// --- report -----------------------------------------------------------------------------------------------

function printTable(results: Result[]): void {
  const columns = ['proxy', 'requests', 'rps', 'errors', 'non2xx', 'socketErrors', 'max', 'p99Ms', 'recovery_s', 'statuses'] as const
  const cell = (result: Result, column: (typeof columns)[number]) => String(result[column] ?? 'never')
  const widths = columns.map((column) => Math.max(column.length, ...results.map((result) => cell(result, column).length)))
  const row = (values: string[]) => values.map((value, i) => value.padEnd(widths[i]!)).join('  ')
  console.log(row([...columns]))
  for (const result of results) console.log(row(columns.map((column) => cell(result, column))))
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-failover-'))
  try {
    const script = join(dir, 'count.lua')
    await writeFile(script, WRK_SCRIPT)
    const backendPorts = [await freePort(), await freePort(), await freePort()]
    const results: Result[] = []
    for (const proxy of RATE > 0 ? [portico, nginx, haproxy, floor] : [portico, nginx, haproxy]) {
      process.stderr.write(`${proxy.name}: ${DURATION_S}s of load; B hangs at t=${HANG_B_AT_S}s, A killed at t=${KILL_A_AT_S}s and restarted at t=${RESTART_A_AT_S}s\n`)
      results.push(await runOne(proxy, dir, backendPorts, script))
    }
    printTable(results)
    const [p, n, h, f] = results as [Result, Result, Result, Result | undefined]
    const checks = [
      [`zero client-visible errors through Portico (${p.errors})`, p.errors === 0],
      [`Portico errors <= nginx (${n.errors}) and HAProxy (${h.errors})`, p.errors <= n.errors && p.errors <= h.errors],
      [`Portico's slowest request <= response timeout + ${SLOWEST_MARGIN_MS} ms (${p.maxMs} ms)`, p.maxMs <= RESPONSE_TIMEOUT_MS + SLOWEST_MARGIN_MS],
      ...(RATE > 0 ? [[`Portico's p99 <= 1.5 x nginx's at ${RATE} requests/s (${p.p99Ms} ms, nginx ${n.p99Ms} ms)`, p.p99Ms <= 1.5 * n.p99Ms] as const] : []),
      [`restarted backend back in Portico's rotation within ${HEALTH_CHECK_INTERVAL_S} s (${p.recovery_s ?? 'never'})`, p.recovery_s !== null && p.recovery_s <= HEALTH_CHECK_INTERVAL_S],
    ] as const
    for (const [what, met] of checks) console.log(`target ${met ? 'met' : 'MISSED'}: ${what}`)
    if (f) console.log(`for reference: the Node floor in front of backend C alone, at the same rate: p99 ${f.p99Ms} ms`)
    console.log(
      JSON.stringify({
        scenario: 'failover-chaos',
        portico_errors: p.errors,
        nginx_errors: n.errors,
        haproxy_errors: h.errors,
        portico_rps: p.rps,
        recovery_s: p.recovery_s,
        max_ms: { portico: p.maxMs, nginx: n.maxMs, haproxy: h.maxMs },
        p99_ms: { portico: p.p99Ms, nginx: n.p99Ms, haproxy: h.p99Ms, ...(f ? { floor: f.p99Ms } : {}) },
        ...(RATE > 0 ? { offered_rps: RATE } : {}),
        response_timeout_ms: RESPONSE_TIMEOUT_MS,
        health_check_interval_s: HEALTH_CHECK_INTERVAL_S,
      }),
    )
  } finally {
    killAll()
    if (process.env.BENCH_KEEP) process.stderr.write(`configs and logs kept in ${dir}\n`)
    else await rm(dir, { recursive: true, force: true })
  }
}

await main()
