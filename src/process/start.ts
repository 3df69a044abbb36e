import cluster from 'node:cluster'
import { ConfigReader } from '../config/reader.ts'
import { watchConfig } from '../config/watch.ts'
import type { LogFormat } from '../telemetry/log-format.ts'
import type { Logger } from '../telemetry/logger.ts'
import { PorticoInstance } from './instance.ts'
import { logAdmin, runPrimary, runWorker } from './workers.ts'

/**
 * Starts serving `file` and returns once it serves: in this process, or as the primary of `workers` worker
 * processes; a worker serves what its primary sends. SIGTERM and SIGINT stop it gracefully. An invalid file
 * throws ConfigError, a port that cannot be bound BindError.
 */
export async function serve(file: string, options: { workers: number; watch: boolean; logFormat?: LogFormat }, logger: Logger): Promise<void> {
  if (cluster.isWorker) return runWorker(logger, options.logFormat)
  if (options.workers > 1) {
    await runPrimary(file, options.workers, options.watch, logger)
    logger.info({ workers: options.workers, config: file }, `starting ${options.workers} workers`)
    return
  }
  const reader = new ConfigReader()
  const instance = await PorticoInstance.start(await reader.load(file, { whileServing: false }), { logger, logFormat: options.logFormat })
  for (const address of instance.gateway.addresses()) logger.info({ listener: address.name, url: address.url }, `listening on ${address.bound} (listener ${address.name})`)
  if (instance.admin) logAdmin(logger, instance.admin.url, instance.gateway.snapshot.config.admin.allowRemote)
  const stopWatching = watchConfig(file, { watch: options.watch }, () => void instance.reloadFile(file, reader))
  const stop = () => {
    stopWatching()
    void instance.close().finally(() => process.exit(0))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
