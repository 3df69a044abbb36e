import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry } from 'prom-client'
import { AdminServer } from '../admin/server.ts'
import { checkTransitions } from '../config/lifecycle-check.ts'
import { ConfigError, parseConfig, readConfigText } from '../config/load.ts'
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

/** Messages between the primary and its workers. The primary validates; workers get only valid config text. */
type ToWorker = { type: 'config'; text: string; file: string } | { type: 'describe'; id: number } | { type: 'readiness'; id: number } | { type: 'analytics'; id: number }
type WorkerAnswer = { pid: number | undefined; endpoints?: EndpointStatus[]; readiness?: { ready: boolean; body: object }; analytics?: SeriesData[] | null; error?: string }
type ToPrimary =
  | { type: 'ready'; addresses: ListenerAddress[] }
  /** The worker could not start (a port taken, a file gone): the gateway does not start either. */
  | { type: 'start-failed'; message: string }
  | { type: 'described'; id: number; endpoints: EndpointStatus[] }
  | { type: 'readiness'; id: number; readiness: { ready: boolean; body: object } }
  /** The worker's analytics data; null while analytics are off. */
  | { type: 'analytics'; id: number; series: SeriesData[] | null }

/**
 * The primary of `--workers N`: forks the workers, owns the admin port (metrics aggregated over workers),
 * validates config changes once and hands them to every worker, replaces workers that die, and owns the one
 * state of every endpoint (suspension, health checks, sticky sessions) that the workers share.
 *
 * Everything that can refuse the start (the config, a port taken, the admin port) is checked before the first
 * fork, so a gateway that cannot start exits at once with one message instead of restarting workers in a loop.
 */
export async function runPrimary(file: string, workers: number, watch: boolean, logger: Logger): Promise<void> {
  let text = await readConfigText(file)
  let config: ConfigModel = parseConfig(text, file)
  await ensurePortsFree(config.listeners.map((listener) => ({ what: `listener ${listener.name}`, host: listener.host, port: listener.port })))

  const aggregator = new AggregatorRegistry()
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
      })
    : undefined
  if (admin) logAdmin(logger, admin.url, config.admin.allowRemote)

  let stopping = false
  /** Every worker of the first start has served. */
  let started = false
  let failedStart: string | undefined
  const shared = new SharedState()
  const limits = new SharedLimits()
  const capacity = new SharedCapacity()
  // Leaf state changes happen here, once for the gateway: the primary logs them.
  const stopStateLog = logStateChanges(logger, () => true)
  const fork = () => {
    const worker = cluster.fork()
    shared.attach(worker)
    limits.attach(worker)
    capacity.attach(worker)
    worker.on('online', () => worker.send({ type: 'config', text, file } satisfies ToWorker))
    worker.on('message', (message: ToPrimary) => {
      if (message.type === 'ready') {
        serving.add(worker.id)
        if (serving.size === workers) started = true
        logger.info({ worker: worker.process.pid, listeners: message.addresses }, `worker serving on ${message.addresses.map((address) => address.bound).join(', ')}`)
      }
      // Before the gateway ever served, every worker would fail alike: stop rather than restart them in a loop.
      // Later, a replacement that fails is retried with a growing delay while the others serve.
      if (message.type === 'start-failed' && !started && failedStart === undefined) {
        failedStart = message.message
        logger.fatal(`cannot start: ${message.message}`)
        stop()
      }
    })
    worker.once('exit', () => serving.delete(worker.id))
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

  const stopWatching = watchConfig(file, { watch }, () => {
    void (async () => {
      try {
        const nextText = await readConfigText(file)
        const next = parseConfig(nextText, file)
        const issues = checkTransitions(config, next, file)
        if (issues.length > 0) throw new ConfigError(issues)
        text = nextText
        config = next
        for (const worker of liveWorkers()) worker.send({ type: 'config', text, file } satisfies ToWorker)
        logger.info({ apis: config.apis.length }, 'config reloaded on every worker')
      } catch (error) {
        logRefusedConfig(logger, file, error)
      }
    })()
  })
  function stop() {
    stopping = true
    stopWatching()
    stopStateLog()
    shared.close()
    limits.close()
    for (const worker of liveWorkers()) worker.kill('SIGTERM')
    void admin?.close()
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

/** A worker: serves what the primary sends, reloading on every new config. */
export function runWorker(logger: Logger, logFormat?: LogFormat): void {
  shareStateWithPrimary()
  shareLimitsWithPrimary()
  shareCapacityWithPrimary()
  let instance: PorticoInstance | undefined
  let applying: Promise<void> = Promise.resolve()
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
    const text = message.text
    const file = message.file
    applying = applying
      .then(async () => {
        const config = parseConfig(text, file)
        if (instance) return instance.reload(config, file)
        instance = await PorticoInstance.start(config, { logger, logFormat, admin: false, reusePort: true })
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
