import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry } from 'prom-client'
import { AdminServer } from '../admin/server.ts'
import { checkTransitions } from '../config/lifecycle-check.ts'
import { ConfigError, parseConfig, readConfigText } from '../config/load.ts'
import type { ConfigModel } from '../config/schema.ts'
import { watchConfig } from '../config/watch.ts'
import type { Logger } from '../telemetry/logger.ts'
import { PorticoInstance } from './instance.ts'

/** Messages between the primary and its workers. The primary validates; workers get only valid config text. */
type ToWorker = { type: 'config'; text: string; file: string } | { type: 'describe'; id: number }
type ToPrimary = { type: 'ready'; addresses: unknown } | { type: 'described'; id: number; endpoints: unknown }

/**
 * The primary of `--workers N`: forks the workers, owns the admin port (metrics aggregated over workers),
 * validates config changes once and hands them to every worker, and replaces workers that die.
 */
export async function runPrimary(file: string, workers: number, watch: boolean, logger: Logger): Promise<void> {
  let text = await readConfigText(file)
  let config: ConfigModel = parseConfig(text, file)
  let stopping = false
  const fork = () => {
    const worker = cluster.fork()
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
        endpoints: async () => ({ workers: await Promise.all(liveWorkers().map((worker) => describeWorker(worker, ++nextId))) }),
      })
    : undefined
  if (admin) logger.info(`admin on ${admin.url}`)

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
        const message = error instanceof ConfigError ? error.message : String(error)
        logger.error(`config not reloaded, the running one is kept:\n${message}`)
      }
    })()
  })
  const stop = () => {
    stopping = true
    stopWatching()
    for (const worker of liveWorkers()) worker.kill('SIGTERM')
    void admin?.close()
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && worker.isConnected())
}

function describeWorker(worker: Worker, id: number): Promise<unknown> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish({ pid: worker.process.pid, error: 'no answer within 2s' }), 2000)
    const onMessage = (message: ToPrimary) => {
      if (message.type === 'described' && message.id === id) finish({ pid: worker.process.pid, endpoints: message.endpoints })
    }
    const finish = (value: unknown) => {
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
