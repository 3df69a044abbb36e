// `npm run bench:workers`: what a second worker costs and whether it takes half of the load. Portico serves
// get-small with `--workers 1`, then `--workers 2`, each offered the same fixed rate by `hey` (BENCH_WORKERS_RATE
// requests per second in all, default 3000, over 32 connections) for BENCH_WORKERS_SECONDS (default 10) after a
// warm-up; nginx is the backend. Reports the CPU time of every Portico process (primary and workers) per request,
// each worker's share of that CPU, and p99. Then each is loaded as fast as it answers (wrk, same seconds) for the
// requests per second this machine allows with load generator and backend on the same cores.
// See bench/README.md ("Workers") for what this can and cannot say on a two-core machine.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, waitForPort } from '../test/support/net.ts'
import { startNginxBackend } from './nginx.ts'
import { scenarios } from './scenarios.ts'

const RATE = Number(process.env.BENCH_WORKERS_RATE ?? 3000)
const SECONDS = Number(process.env.BENCH_WORKERS_SECONDS ?? 10)
const CONNECTIONS = 32
const root = fileURLToPath(new URL('..', import.meta.url))
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())
const scenario = scenarios.find((candidate) => candidate.name === 'get-small')!

interface Run {
  workers: number
  requests: number
  cpu_us_per_req: number
  /** Each worker's share of the workers' CPU time, in per cent. */
  worker_cpu_share_pct: number[]
  p99_ms: number
  /** The primary's CPU time per request (0 with one worker: the primary is the worker). */
  primary_cpu_us_per_req: number
  /** Loaded as fast as it answers (wrk): requests per second and CPU time per request. */
  saturated: { rps: number; cpu_us_per_req: number }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-workers-'))
  const children: ChildProcess[] = []
  try {
    const upstream = await startNginxBackend(dir, children)
    const runs: Run[] = []
    for (const workers of [1, 2]) runs.push(await measure(workers, upstream, dir, children))
    for (const run of runs) process.stderr.write(`${JSON.stringify(run)}\n`)
    const [one, two] = runs as [Run, Run]
    console.log(
      JSON.stringify({
        scenario: 'workers',
        offered_rps: RATE,
        cpu_us_per_req: { workers_1: one.cpu_us_per_req, workers_2: two.cpu_us_per_req },
        cpu_ratio: Math.round((two.cpu_us_per_req / one.cpu_us_per_req) * 100) / 100,
        worker_cpu_share_pct: two.worker_cpu_share_pct,
        primary_cpu_us_per_req: two.primary_cpu_us_per_req,
        p99_ms: { workers_1: one.p99_ms, workers_2: two.p99_ms },
        saturated_rps: { workers_1: one.saturated.rps, workers_2: two.saturated.rps },
        saturated_cpu_us_per_req: { workers_1: one.saturated.cpu_us_per_req, workers_2: two.saturated.cpu_us_per_req },
        saturated_cpu_ratio: Math.round((two.saturated.cpu_us_per_req / one.saturated.cpu_us_per_req) * 100) / 100,
      }),
    )
  } finally {
    for (const child of children) child.kill('SIGTERM')
    await rm(dir, { recursive: true, force: true })
  }
}

async function measure(workers: number, upstream: string, dir: string, children: ChildProcess[]): Promise<Run> {
  const port = await freePort()
  const config = join(dir, `workers-${workers}.yaml`)
  await writeFile(
    config,
    `listeners: [{ name: bench, host: 127.0.0.1, port: ${port} }]
admin: { enabled: false }
accessLog: { enabled: true, path: "${join(dir, `workers-${workers}-access.log`)}" }
apis:${scenario.apis(upstream)}`,
  )
  const portico = spawn(join(root, 'bin/portico'), ['start', '--config', config, '--workers', String(workers)], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, PORTICO_LOG_LEVEL: 'warn' },
  })
  children.push(portico)
  try {
    await waitForPort(port)
    const url = `http://127.0.0.1:${port}${scenario.porticoPath}`
    await hey(url, 3)
    const workerPids = await childPids(portico.pid!)
    if (workerPids.length !== (workers === 1 ? 0 : workers)) throw new Error(`expected ${workers} worker processes, found ${workerPids.length}`)
    const pids = [portico.pid!, ...workerPids]
    const before = await Promise.all(pids.map(cpuSeconds))
    const output = await hey(url, SECONDS)
    const after = await Promise.all(pids.map(cpuSeconds))
    const used = after.map((seconds, i) => seconds - before[i]!)
    const requests = Number(/\[200\]\s+(\d+) responses/.exec(output)?.[1])
    const p99 = Number(/99% in ([\d.]+) secs/.exec(output)?.[1])
    if (!requests || !Number.isFinite(p99) || /Error distribution:/.test(output)) throw new Error(`hey saw failures or printed nothing readable:\n${output}`)
    const workerCpu = workers === 1 ? used : used.slice(1)
    const workersTotal = workerCpu.reduce((sum, seconds) => sum + seconds, 0)
    const perRequest = (seconds: number, count: number) => Math.round((seconds * 1e7) / count) / 10
    const saturatedBefore = await Promise.all(pids.map(cpuSeconds))
    const saturated = await wrk(url, SECONDS)
    const saturatedAfter = await Promise.all(pids.map(cpuSeconds))
    const saturatedCpu = saturatedAfter.reduce((sum, seconds, i) => sum + seconds - saturatedBefore[i]!, 0)
    return {
      workers,
      requests,
      cpu_us_per_req: perRequest(used.reduce((sum, seconds) => sum + seconds, 0), requests),
      worker_cpu_share_pct: workerCpu.map((seconds) => Math.round((seconds / workersTotal) * 100)),
      primary_cpu_us_per_req: workers === 1 ? 0 : perRequest(used[0]!, requests),
      p99_ms: Math.round(p99 * 10_000) / 10,
      saturated: { rps: Math.round(saturated.requests / SECONDS), cpu_us_per_req: perRequest(saturatedCpu, saturated.requests) },
    }
  } finally {
    portico.kill('SIGTERM')
    await new Promise((resolve) => (portico.exitCode === null ? portico.once('exit', resolve) : resolve(undefined)))
  }
}

/** The processes `pid` started (its workers), from /proc/PID/task/TID/children. */
async function childPids(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`)
  const lists = await Promise.all(tasks.map((task) => readFile(`/proc/${pid}/task/${task}/children`, 'utf8')))
  return lists.flatMap((list) => list.trim().split(/\s+/).filter(Boolean).map(Number))
}

/** utime + stime of a process, from /proc/PID/stat (fields 14 and 15, counted after the command name). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

function hey(url: string, seconds: number): Promise<string> {
  return run('hey', ['-z', `${seconds}s`, '-c', String(CONNECTIONS), '-q', String(RATE / CONNECTIONS), '-t', '5', url])
}

async function wrk(url: string, seconds: number): Promise<{ requests: number }> {
  const output = await run('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, url])
  const requests = Number(/(\d+) requests in/.exec(output)?.[1])
  if (!requests || /Non-2xx or 3xx responses|Socket errors/.test(output)) throw new Error(`wrk saw failures or printed nothing readable:\n${output}`)
  return { requests }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}:\n${output}`))))
  })
}

await main()
