import cluster, { type Worker } from 'node:cluster'
import { readFile } from 'node:fs/promises'
import { AggregatorRegistry } from 'prom-client'
import { AdminServer } from '../admin/server.ts'
import { checkTransitions } from '../config/lifecycle-check.ts'
import { ConfigError, parseConfig } from '../config/load.ts'
import type { ConfigModel } from '../config/schema.ts'
import { watchConfig } from '../config/watch.ts'
import type { EndpointStatus } from '../endpoints/endpoint.ts'
import { logStateChanges } from '../resilience/state-events.ts'
import type { Logger } from '../telemetry/logger.ts'
import { mergeWorkerViews } from './cluster-view.ts'
import { PorticoInstance } from './instance.ts'
import { shareStateWithPrimary, SharedState } from './shared-state.ts'

/** Messages between the primary and its workers. The primary validates; workers get only valid config text. */
type ToWorker = { type: 'config'; text: string; file: string } | { type: 'describe'; id: number }
type ToPrimary = { type: 'ready'; addresses: unknown } | { type: 'described'; id: number; endpoints: EndpointStatus[] }

/**
 * The primary of `--workers N`: forks the workers, owns the admin port (metrics aggregated over workers),
 * validates config changes once and hands them to every worker, replaces workers that die, and owns the one
 * state of every endpoint (suspension, health checks, sticky sessions) that the workers share.
 */
export async function runPrimary(file: string, workers: number, watch: boolean, logger: Logger): Promise<void> {
  let text = await readFile(file, 'utf8')
  let config: ConfigModel = parseConfig(text, file)
  let stopping = false
  const shared = new SharedState()
  // Leaf state changes happen here, once for the gateway: the primary logs them.
  const stopStateLog = logStateChanges(logger, () => true)
  const fork = () => {
    const worker = cluster.fork()
    shared.attach(worker)
    worker.on('online', () => worker.send({ type: 'config', text, file } satisfies ToWorker))
    worker.on('message', (message: ToPrimary) => {
      if (message.type === 'ready') logger.info({ worker: worker.process.pid, listeners: message.addresses }, 'worker serving')
    })
  }
  // A worker that dies soon after starting (a port taken, a file gone) would otherwise be re-forked in a tight
  // loop: each quick death doubles the wait before the next fork, up to 10 s; a worker that lived 30 s resets it.
  let respawnDelay = 0
  let lastFork = Date.now()
  cluster.on('fork', () => (lastFork = Date.now()))
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    respawnDelay = Date.now() - lastFork > 30_000 ? 0 : Math.min(10_000, Math.max(100, respawnDelay * 2))
    logger.error({ worker: worker.process.pid, code, signal, inMs: respawnDelay }, 'worker died; starting another')
    setTimeout(() => stopping || fork(), respawnDelay)
  })
  for (let i = 0; i < workers; i++) fork()

  const aggregator = new AggregatorRegistry()
  let nextId = 0
  const admin = config.admin.enabled
    ? await AdminServer.start(config.admin.host, config.admin.port, {
        metrics: async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }),
        endpoints: async () => {
          const views = await Promise.all(liveWorkers().map((worker) => describeWorker(worker, ++nextId)))
          const answered = views.filter((view) => view.endpoints !== undefined)
          return { endpoints: mergeWorkerViews(answered.map((view) => view.endpoints!)), workers: views.length, ...(answered.length < views.length ? { unanswered: views.filter((view) => !view.endpoints) } : {}) }
        },
      })
    : undefined
  if (admin) logger.info(`admin on ${admin.url}`)

  const stopWatching = watchConfig(file, { watch }, () => {
    void (async () => {
      try {
        const nextText = await readFile(file, 'utf8')
        const next = parseConfig(nextText, file)
        const issues = checkTransitions(config, next, file)
        if (issues.length > 0) throw new ConfigError(issues)
        text = nextText
        config = next
        for (const worker of liveWorkers()) worker.send({ type: 'config', text, file } satisfies ToWorker)
        logger.info({ apis: config.apis.length }, 'config reloaded on every worker')
      } catch (error) {
        const message = error instanceof ConfigError ? error.message : String(error)
        logger.error(`config not reloaded, the running one is kept:\n${message}`)
      }
    })()
  })
  const stop = () => {
    stopping = true
    stopWatching()
    stopStateLog()
    shared.close()
    for (const worker of liveWorkers()) worker.kill('SIGTERM')
    void admin?.close()
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && worker.isConnected())
}

function describeWorker(worker: Worker, id: number): Promise<{ pid: number | undefined; endpoints?: EndpointStatus[]; error?: string }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish({ pid: worker.process.pid, error: 'no answer within 2s' }), 2000)
    const onMessage = (message: ToPrimary) => {
      if (message.type === 'described' && message.id === id) finish({ pid: worker.process.pid, endpoints: message.endpoints })
    }
    const finish = (value: { pid: number | undefined; endpoints?: EndpointStatus[]; error?: string }) => {
      clearTimeout(timer)
      worker.off('message', onMessage)
      resolve(value)
    }
    worker.on('message', onMessage)
    worker.send({ type: 'describe', id } satisfies ToWorker)
  })
}

/** A worker: serves what the primary sends, reloading on every new config. */
export function runWorker(logger: Logger): void {
  shareStateWithPrimary()
  let instance: PorticoInstance | undefined
  let applying: Promise<void> = Promise.resolve()
  process.on('message', (message: ToWorker) => {
    // The same channel carries prom-client's metric requests, which its AggregatorRegistry answers itself.
    if (message?.type !== 'config' && message?.type !== 'describe') return
    if (message.type === 'describe') {
      process.send?.({ type: 'described', id: message.id, endpoints: instance?.gateway.snapshot.roots.map((e) => e.describe()) ?? [] } satisfies ToPrimary)
      return
    }
    // One config at a time: a reload that arrives while the first start is still under way waits for it,
    // instead of starting a second instance beside the first.
    const text = message.text
    const file = message.file
    applying = applying
      .then(async () => {
        const config = parseConfig(text, file)
        if (instance) return instance.gateway.reload(config, file)
        instance = await PorticoInstance.start(config, { logger, admin: false, reusePort: true })
        AggregatorRegistry.setRegistries([instance.metrics.registry])
        // Constructing one installs prom-client's worker side, which answers the primary's metric requests.
        new AggregatorRegistry()
        process.send?.({ type: 'ready', addresses: instance.gateway.addresses() } satisfies ToPrimary)
      })
      .catch((error: unknown) => {
        logger.fatal({ err: error }, 'worker failed')
        process.exit(1)
      })
  })
  process.once('SIGTERM', () => {
    void instance?.close().finally(() => process.exit(0))
  })
}
