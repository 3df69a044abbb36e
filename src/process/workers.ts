import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry } from 'prom-client'
import type { Publisher } from '../admin/publisher.ts'
import { AdminServer } from '../admin/server.ts'
import { checkTransitions } from '../config/lifecycle-check.ts'
import { ConfigError, readConfigText } from '../config/load.ts'
import { ConfigReader } from '../config/reader.ts'
import type { ConfigModel } from '../config/schema.ts'
import { watchConfig } from '../config/watch.ts'
import type { EndpointStatus } from '../core/endpoint.ts'
import { logStateChanges } from '../resilience/state-events.ts'
import type { LogFormat } from '../telemetry/log-format.ts'
import type { Logger } from '../telemetry/logger.ts'
import { analyticsReport, type SeriesData } from '../telemetry/analytics.ts'
import { mergeWorkerViews } from './workers-view.ts'
import { BindError, ensurePortsFree } from '../gateway/bind.ts'
import type { ListenerAddress } from '../gateway/gateway.ts'
import { PorticoInstance, readinessAnswer } from './instance.ts'
import { logRefusedConfig } from './refused-config.ts'
import { shareStateWithPrimary, SharedState } from './shared-state.ts'
import { shareLimitsWithPrimary, SharedLimits } from './shared-limits.ts'
import { shareCapacityWithPrimary, SharedCapacity } from './shared-capacity.ts'

/**
 * Messages between the primary and its workers. The primary validates; workers get only valid config text, each
 * with a number, and answer a reload with `reloaded` (with the error when it was refused).
 */
type ToWorker = { type: 'config'; id: number; text: string; file: string } | { type: 'describe'; id: number } | { type: 'readiness'; id: number } | { type: 'analytics'; id: number }
type WorkerAnswer = { pid: number | undefined; endpoints?: EndpointStatus[]; readiness?: { ready: boolean; body: object }; analytics?: SeriesData[] | null; error?: string }
type ToPrimary =
  | { type: 'ready'; addresses: ListenerAddress[] }
  /** The worker could not start (a port taken, a file gone): the gateway does not start either. */
  | { type: 'start-failed'; message: string }
  /** A reload swapped in, or refused (`error`) with the worker still serving its running config. */
  | { type: 'reloaded'; id: number; error?: string }
  | { type: 'described'; id: number; endpoints: EndpointStatus[] }
  | { type: 'readiness'; id: number; readiness: { ready: boolean; body: object } }
  /** The worker's analytics data; null while analytics are off. */
  | { type: 'analytics'; id: number; series: SeriesData[] | null }

/** A config as the primary hands it to its workers; `id` orders them. */
interface WorkerConfig {
  id: number
  text: string
  /** Where it came from, for messages: the file, or the store's version. */
  file: string
}

/** How long the primary waits for a worker to answer a reload before counting it refused. */
const RELOAD_ANSWER_MS = 30_000

export interface WorkersOptions {
  /** The publisher API on the primary's admin port, when serving from a config store. */
  publisher?: Publisher
  /** What `/health` adds (the store's state). */
  health?: () => object
  /** The config of the text, when the caller has parsed it already. */
  config?: ConfigModel
}

/** The primary's side of `--workers N`, whatever the config comes from (a file or a config store). */
export interface Workers {
  /** Resolves once every worker of the first start serves. (A start that fails ends the process.) */
  readonly started: Promise<void>
  /** The primary's admin port, when on. */
  readonly adminUrl: string | undefined
  /**
   * Hands a checked config to every worker and resolves once each has swapped it in. When one refuses it, the
   * workers that took it go back to the running config, so all serve the same one, and this throws its reason.
   */
  apply(text: string, file: string): Promise<void>
  /** Stops every worker (each lets its requests in flight finish) and the admin port; resolves once they have. */
  stop(): Promise<void>
}

/** Where the workers' listeners answer on this machine, plain HTTP first (as a one-process node lists them). */
function listenerUrls(config: ConfigModel): string[] {
  return config.listeners
    .map((listener) => {
      const host = listener.host === '0.0.0.0' || listener.host === '::' ? '127.0.0.1' : listener.host
      return `${listener.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${listener.port}`
    })
    .sort((a, b) => Number(b.startsWith('http:')) - Number(a.startsWith('http:')))
}

/**
 * The primary of `--workers N`: forks the workers, owns the admin port (metrics aggregated over workers, and the
 * publisher API when serving from a store), hands every config to every worker, replaces workers that die, and
 * owns the one state of every endpoint (suspension, health checks, sticky sessions) that the workers share.
 *
 * Everything that can refuse the start (the config, a port taken, the admin port) is checked before the first
 * fork, so a gateway that cannot start exits at once with one message instead of restarting workers in a loop.
 */
export async function startWorkers(text: string, file: string, workers: number, logger: Logger, options: WorkersOptions = {}): Promise<Workers> {
  const config: ConfigModel = options.config ?? new ConfigReader().parse(text, file)
  await ensurePortsFree(config.listeners.map((listener) => ({ what: `listener ${listener.name}`, host: listener.host, port: listener.port })))

  const aggregator = new AggregatorRegistry()
  /** The one state of every endpoint leaf, which the workers share (and an operator may reset). */
  const shared = new SharedState()
  let nextId = 0
  const serving = new Set<number>()
  const admin = config.admin.enabled
    ? await AdminServer.start(config.admin.host, config.admin.port, {
        metrics: async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }),
        endpoints: async () => {
          const views = await Promise.all(liveWorkers().map((worker) => askWorker(worker, 'describe', ++nextId)))
          const answered = views.filter((view) => view.endpoints !== undefined)
          return { endpoints: mergeWorkerViews(answered.map((view) => view.endpoints!)), workers: views.length, ...(answered.length < views.length ? { unanswered: views.filter((view) => !view.endpoints) } : {}) }
        },
        ready: async () => {
          if (serving.size < workers) return { ready: false, body: { status: 'not ready', reason: `${serving.size} of ${workers} workers serving` } }
          const answers = await Promise.all(liveWorkers().map((worker) => askWorker(worker, 'readiness', ++nextId)))
          // Workers share every endpoint's state, so any one not ready speaks for all.
          const unready = answers.find((answer) => !answer.readiness?.ready)
          if (!unready) return answers[0]!.readiness!
          return unready.readiness ?? { ready: false, body: { status: 'not ready', reason: `worker ${unready.pid}: ${unready.error}` } }
        },
        // Each worker counts its own requests; the report adds their slots up.
        analytics: async (query) => {
          const answers = await Promise.all(liveWorkers().map((worker) => askWorker(worker, 'analytics', ++nextId)))
          const dumps = answers.map((answer) => answer.analytics).filter((series) => series !== undefined && series !== null)
          if (dumps.length === 0) return { on: false }
          const unanswered = answers.filter((answer) => answer.error !== undefined).map(({ pid, error }) => ({ pid, error }))
          return { on: true, report: { ...analyticsReport(dumps, query), workers: answers.length, ...(unanswered.length > 0 ? { unanswered } : {}) } }
        },
        resetEndpoint: async (id) => shared.reset(id, 'reset by an operator'),
        gatewayUrls: () => listenerUrls(config),
        ...(options.publisher ? { publisher: options.publisher } : {}),
        ...(options.health ? { health: options.health } : {}),
      })
    : undefined
  if (admin) logAdmin(logger, admin.url, config.admin.allowRemote)

  /** What every worker serves, and what a new worker starts with. */
  let current: WorkerConfig = { id: 0, text, file }
  let configIds = 0
  /** Workers that have had a config: the ones a new config goes to. */
  const online = new Set<Worker>()
  let stopping = false
  /** Every worker of the first start has served. */
  let started = false
  let markStarted = () => {}
  const whenStarted = new Promise<void>((resolve) => (markStarted = resolve))
  let failedStart: string | undefined
  const limits = new SharedLimits()
  const capacity = new SharedCapacity()
  // Leaf state changes happen here, once for the gateway: the primary logs them.
  const stopStateLog = logStateChanges(logger, () => true)
  // A worker on its way out has no channel left: it is replaced, and its replacement gets `current`.
  const send = (worker: Worker, config: WorkerConfig) => worker.isConnected() && worker.send({ type: 'config', ...config } satisfies ToWorker)
  const fork = () => {
    const worker = cluster.fork()
    shared.attach(worker)
    limits.attach(worker)
    capacity.attach(worker)
    worker.on('online', () => {
      online.add(worker)
      send(worker, current)
    })
    worker.on('message', (message: ToPrimary) => {
      if (message.type === 'ready') {
        serving.add(worker.id)
        if (serving.size === workers && !started) {
          started = true
          markStarted()
        }
        logger.info({ worker: worker.process.pid, listeners: message.addresses }, `worker serving on ${message.addresses.map((address) => address.bound).join(', ')}`)
      }
      // Before the gateway ever served, every worker would fail alike: stop rather than restart them in a loop.
      // Later, a replacement that fails is retried with a growing delay while the others serve.
      if (message.type === 'start-failed' && !started && failedStart === undefined) {
        failedStart = message.message
        logger.fatal(`cannot start: ${message.message}`)
        void stop()
      }
    })
    worker.once('exit', () => {
      serving.delete(worker.id)
      online.delete(worker)
    })
  }
  // A worker that dies soon after starting (a file gone) would otherwise be re-forked in a tight loop: each
  // quick death doubles the wait before the next fork, up to 10 s; a worker that lived 30 s resets it.
  let respawnDelay = 0
  let lastFork = Date.now()
  cluster.on('fork', () => (lastFork = Date.now()))
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (failedStart !== undefined && liveWorkers().length === 0) process.exit(1)
      return
    }
    respawnDelay = Date.now() - lastFork > 30_000 ? 0 : Math.min(10_000, Math.max(100, respawnDelay * 2))
    logger.error({ worker: worker.process.pid, code, signal, inMs: respawnDelay }, 'worker died; starting another')
    setTimeout(() => stopping || fork(), respawnDelay)
  })
  for (let i = 0; i < workers; i++) fork()

  const applyNow = async (nextText: string, nextFile: string) => {
    const next: WorkerConfig = { id: ++configIds, text: nextText, file: nextFile }
    const targets = [...online]
    const answers = await Promise.all(targets.map((worker) => reloadOn(worker, next, send)))
    const refused = answers.findIndex((answer) => answer.error !== undefined)
    if (refused === -1) {
      current = next
      // A worker that came online meanwhile started with the config before: it gets this one now.
      for (const worker of online) if (!targets.includes(worker)) send(worker, current)
      return
    }
    const back: WorkerConfig = { ...current, id: ++configIds }
    for (const [index, worker] of targets.entries()) if (answers[index]!.error === undefined && online.has(worker)) send(worker, back)
    current = back
    throw new Error(`worker ${targets[refused]!.process.pid}: ${answers[refused]!.error}`)
  }
  // One config at a time, in the order given.
  let applying: Promise<unknown> = Promise.resolve()
  const apply = (nextText: string, nextFile: string) => {
    const run = applying.then(() => applyNow(nextText, nextFile))
    applying = run.catch(() => {})
    return run
  }
  function stop(): Promise<void> {
    stopping = true
    stopStateLog()
    shared.close()
    limits.close()
    const exited = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && !worker.isDead()).map((worker) => new Promise((resolve) => worker.once('exit', resolve)))
    for (const worker of liveWorkers()) worker.kill('SIGTERM')
    return Promise.all([...exited, admin?.close()]).then(() => {})
  }
  return { started: whenStarted, adminUrl: admin?.url, apply, stop }
}

/**
 * The primary of `--workers N` serving a config file: the workers get the file, and each change to it that
 * loads and follows the lifecycle's transitions.
 */
export async function runPrimary(file: string, workers: number, watch: boolean, logger: Logger): Promise<void> {
  const text = await readConfigText(file)
  // The primary checks every change before its workers see it; a change to one API parses that API.
  const reader = new ConfigReader()
  let config: ConfigModel = reader.parse(text, file)
  const pool = await startWorkers(text, file, workers, logger, { config })
  const stopWatching = watchConfig(file, { watch }, () => {
    void (async () => {
      try {
        const nextText = await readConfigText(file)
        const next = reader.parse(nextText, file)
        const issues = checkTransitions(config, next, file)
        if (issues.length > 0) throw new ConfigError(issues)
        await pool.apply(nextText, file)
        config = next
        logger.info({ apis: config.apis.length }, 'config reloaded on every worker')
      } catch (error) {
        logRefusedConfig(logger, file, error)
      }
    })()
  })
  const stop = () => {
    stopWatching()
    void pool.stop()
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

/** Logs where the admin port listens; one reachable from other machines gets a warning every start. */
export function logAdmin(logger: Logger, url: string, allowRemote: boolean): void {
  if (allowRemote) logger.warn(`admin on ${url}, reachable from other machines (admin.allowRemote): it has no authentication or TLS`)
  else logger.info(`admin on ${url}`)
}

function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && worker.isConnected())
}

/** Asks a worker for its endpoint view or its readiness; a worker that does not answer within 2 s says so. */
function askWorker(worker: Worker, type: 'describe' | 'readiness' | 'analytics', id: number): Promise<WorkerAnswer> {
  return new Promise((resolve) => {
    const pid = worker.process.pid
    const timer = setTimeout(() => finish({ pid, error: 'no answer within 2s' }), 2000)
    const onMessage = (message: ToPrimary) => {
      if (message.type === 'described' && message.id === id) finish({ pid, endpoints: message.endpoints })
      if (message.type === 'readiness' && message.id === id) finish({ pid, readiness: message.readiness })
      if (message.type === 'analytics' && message.id === id) finish({ pid, analytics: message.series })
    }
    const finish = (value: WorkerAnswer) => {
      clearTimeout(timer)
      worker.off('message', onMessage)
      resolve(value)
    }
    worker.on('message', onMessage)
    worker.send({ type, id } as ToWorker)
  })
}

/**
 * Sends `config` to `worker` and waits for its answer: `error` when it refused, none when it swapped the config in
 * or exited first (its replacement starts with the config every worker serves).
 */
function reloadOn(worker: Worker, config: WorkerConfig, send: (worker: Worker, config: WorkerConfig) => void): Promise<{ error?: string }> {
  return new Promise((resolve) => {
    if (!worker.isConnected()) return resolve({})
    const timer = setTimeout(() => finish({ error: `no answer within ${RELOAD_ANSWER_MS / 1000}s` }), RELOAD_ANSWER_MS)
    const onMessage = (message: ToPrimary) => {
      if (message.type === 'reloaded' && message.id === config.id) finish(message.error === undefined ? {} : { error: message.error })
    }
    const onExit = () => finish({})
    const finish = (answer: { error?: string }) => {
      clearTimeout(timer)
      worker.off('message', onMessage)
      worker.off('exit', onExit)
      resolve(answer)
    }
    worker.on('message', onMessage)
    worker.once('exit', onExit)
    send(worker, config)
  })
}

/** A worker: serves what the primary sends, reloading on every new config. */
export function runWorker(logger: Logger, logFormat?: LogFormat): void {
  shareStateWithPrimary()
  shareLimitsWithPrimary()
  shareCapacityWithPrimary()
  let instance: PorticoInstance | undefined
  let applying: Promise<void> = Promise.resolve()
  const reader = new ConfigReader()
  // A config store's primary sends JSON it wrote itself: read as data, its unchanged APIs are found by their JSON.
  const parse = (text: string, file: string) => {
    const data = text.startsWith('{') ? jsonObject(text) : undefined
    return data ? reader.parseData(data, file) : reader.parse(text, file)
  }
  process.on('message', (message: ToWorker) => {
    // The same channel carries prom-client's metric requests, which its AggregatorRegistry answers itself.
    if (message?.type !== 'config' && message?.type !== 'describe' && message?.type !== 'readiness' && message?.type !== 'analytics') return
    if (message.type === 'analytics') {
      process.send?.({ type: 'analytics', id: message.id, series: instance?.analytics() ?? null } satisfies ToPrimary)
      return
    }
    if (message.type === 'describe') {
      process.send?.({ type: 'described', id: message.id, endpoints: instance?.gateway.snapshot.roots.map((e) => e.describe()) ?? [] } satisfies ToPrimary)
      return
    }
    if (message.type === 'readiness') {
      const readiness = instance ? readinessAnswer(instance.gateway) : { ready: false, body: { status: 'not ready', reason: 'worker starting' } }
      process.send?.({ type: 'readiness', id: message.id, readiness } satisfies ToPrimary)
      return
    }
    // One config at a time: a reload that arrives while the first start is still under way waits for it,
    // instead of starting a second instance beside the first.
    const { id, text, file } = message
    applying = applying
      .then(async () => {
        if (instance) {
          try {
            // The primary checked the lifecycle's transitions (or the config store did, step by step).
            await instance.reload(parse(text, file), file, true)
            process.send?.({ type: 'reloaded', id } satisfies ToPrimary)
          } catch (error) {
            // The running config stays; the primary decides, for every worker alike.
            process.send?.({ type: 'reloaded', id, error: (error as Error).message ?? String(error) } satisfies ToPrimary)
          }
          return
        }
        instance = await PorticoInstance.start(parse(text, file), { logger, logFormat, admin: false, reusePort: true })
        AggregatorRegistry.setRegistries([instance.metrics.registry])
        // Constructing one installs prom-client's worker side, which answers the primary's metric requests.
        new AggregatorRegistry()
        process.send?.({ type: 'ready', addresses: instance.gateway.addresses() } satisfies ToPrimary)
      })
      .catch((error: unknown) => {
        if (!instance) {
          // The primary decides: at the gateway's first start it reports this once and stops.
          const message = error instanceof BindError ? error.message : `worker failed to start: ${(error as Error).message ?? String(error)}`
          process.send?.({ type: 'start-failed', message } satisfies ToPrimary, () => process.exit(1))
          return
        }
        logger.fatal({ err: error }, 'worker failed')
        process.exit(1)
      })
  })
  process.once('SIGTERM', () => {
    void instance?.close().finally(() => process.exit(0))
  })
}

/** The object a JSON text holds, or undefined when the text is not strict JSON of an object (YAML's flow style). */
function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const data: unknown = JSON.parse(text)
    return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}
