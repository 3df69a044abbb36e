import { AdminServer } from '../admin/server.ts'
import { ConfigError, loadConfigFile } from '../config/load.ts'
import { protectPort } from '../endpoints/target-guard.ts'
import type { ConfigModel } from '../config/schema.ts'
import { logDocumentReports } from '../prototype/openapi/document-log.ts'
import { logStateChanges } from '../resilience/state-events.ts'
import { AccessLog } from '../telemetry/access-log.ts'
import { registerEndpointMetrics } from '../telemetry/endpoint-metrics.ts'
import { createLogger, type Logger } from '../telemetry/logger.ts'
import { GatewayMetrics } from '../telemetry/metrics.ts'
import { Gateway } from './gateway.ts'

export interface InstanceOptions {
  logger?: Logger
  /** Whether this process serves the admin port (a cluster's workers leave it to the primary). */
  admin?: boolean
  /** Bind listeners with SO_REUSEPORT so every cluster worker accepts on its own socket. */
  reusePort?: boolean
}

/** One Portico process: the gateway, its telemetry and (unless a cluster primary has it) the admin port. */
export class PorticoInstance {
  readonly gateway: Gateway
  readonly metrics: GatewayMetrics
  readonly admin: AdminServer | undefined
  readonly logger: Logger
  readonly #accessLog: AccessLog | undefined
  readonly #stopStateLog: () => void
  readonly #stopDocumentLog: () => void
  /** Keeps dynamic endpoints away from the admin port while this instance runs. */
  #releaseAdminPort: () => void = () => {}

  private constructor(
    gateway: Gateway,
    metrics: GatewayMetrics,
    admin: AdminServer | undefined,
    logger: Logger,
    accessLog: AccessLog | undefined,
    stopDocumentLog: () => void,
  ) {
    this.gateway = gateway
    this.metrics = metrics
    this.admin = admin
    this.logger = logger
    this.#accessLog = accessLog
    this.#stopDocumentLog = stopDocumentLog
    registerEndpointMetrics(metrics.registry, () => gateway.snapshot.roots)
    this.#stopStateLog = logStateChanges(logger, (endpoint) => [...gateway.snapshot.endpoints.values()].includes(endpoint))
  }

  static async start(config: ConfigModel, options: InstanceOptions = {}): Promise<PorticoInstance> {
    const logger = options.logger ?? createLogger()
    const metrics = new GatewayMetrics()
    const accessLog = config.accessLog.enabled ? new AccessLog(config.accessLog.path) : undefined
    // Before the gateway starts: its prototype endpoints begin reading their documents as they are built.
    const stopDocumentLog = logDocumentReports(logger)
    let gateway: Gateway
    try {
      gateway = await Gateway.start(config, { metrics, accessLog, logger }, { reusePort: options.reusePort ?? false })
    } catch (error) {
      stopDocumentLog()
      throw error
    }
    let admin: AdminServer | undefined
    if ((options.admin ?? true) && config.admin.enabled) {
      try {
        admin = await AdminServer.start(config.admin.host, config.admin.port, {
          metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
          endpoints: async () => ({ endpoints: gateway.snapshot.roots.map((endpoint) => endpoint.describe()) }),
        })
      } catch (error) {
        stopDocumentLog()
        await gateway.close()
        throw error
      }
    }
    const instance = new PorticoInstance(gateway, metrics, admin, logger, accessLog, stopDocumentLog)
    const adminPort = admin ? Number(new URL(admin.url).port) : config.admin.enabled ? config.admin.port : undefined
    if (adminPort) instance.#releaseAdminPort = protectPort(adminPort)
    return instance
  }

  /** Loads `file` and swaps it in; an invalid file keeps the running config and logs every problem. */
  async reloadFile(file: string): Promise<boolean> {
    try {
      const config = await loadConfigFile(file)
      this.gateway.reload(config, file)
      return true
    } catch (error) {
      // Whatever went wrong (an invalid file, a forbidden transition, a file an endpoint needs that is gone),
      // the running config stays and the process keeps serving.
      if (error instanceof ConfigError) {
        this.logger.error({ file, issues: error.issues }, `config not reloaded, the running one is kept:\n${error.message}`)
      } else {
        this.logger.error({ file, err: error }, `config not reloaded, the running one is kept: ${(error as Error).message}`)
      }
      return false
    }
  }


  #closing: Promise<void> | undefined

  /** Stops serving and flushes the access log; calling it again waits for the same close. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopStateLog()
      this.#stopDocumentLog()
      await this.gateway.close()
      await this.admin?.close()
      this.#releaseAdminPort()
      this.#accessLog?.close()
    })()
    return this.#closing
  }
}
