import type { Publisher } from '../admin/publisher.ts'
import { AdminServer } from '../admin/server.ts'
import type { ConfigReader } from '../config/reader.ts'
import { Delegating } from '../endpoints/interceptor.ts'
import { protectPort } from '../endpoints/target-guard.ts'
import type { ConfigModel } from '../config/schema.ts'
import type { Endpoint } from '../core/endpoint.ts'
import { logDocumentReports } from '../prototype/openapi/document-log.ts'
import { logStateChanges } from '../resilience/state-events.ts'
import { AccessLog } from '../telemetry/access-log.ts'
import { registerEndpointMetrics } from '../telemetry/endpoint-metrics.ts'
import { registerThrottlingMetrics } from '../throttling/metrics.ts'
import { closeCountStores } from '../throttling/store.ts'
import { createLogger, type Logger } from '../telemetry/logger.ts'
import type { LogFormat } from '../telemetry/log-format.ts'
import { GatewayMetrics } from '../telemetry/metrics.ts'
import type { Tracing } from '../telemetry/tracing.ts'
import { analyticsReport, TrafficAnalytics, type SeriesData } from '../telemetry/analytics.ts'
import { Gateway } from '../gateway/gateway.ts'
import type { Telemetry } from '../gateway/pipeline.ts'
import { unreadyApis } from '../gateway/readiness.ts'
import { logRefusedConfig } from './refused-config.ts'

/** What `/ready` answers for this process. */
export function readinessAnswer(gateway: Gateway): { ready: boolean; body: object } {
  const apis = unreadyApis(gateway.snapshot, Date.now())
  const listeners = gateway.addresses().map((address) => address.bound)
  return apis.length === 0 ? { ready: true, body: { status: 'ready', listeners } } : { ready: false, body: { status: 'not ready', listeners, apis } }
}

function openAccessLog(config: ConfigModel, format: LogFormat | undefined): AccessLog | undefined {
  return config.accessLog.enabled ? new AccessLog(config.accessLog.path, format) : undefined
}

function startAnalytics(config: ConfigModel): TrafficAnalytics | undefined {
  const analytics = config.telemetry.analytics
  return analytics.enabled ? new TrafficAnalytics(analytics.maxSeries) : undefined
}

/** The OpenTelemetry SDK and exporter (some 260 modules) are imported only when a config turns tracing on. */
async function startTracing(config: ConfigModel, metrics: GatewayMetrics): Promise<Tracing | undefined> {
  const tracing = config.telemetry.tracing
  if (!tracing) return undefined
  const { Tracing } = await import('../telemetry/tracing.ts')
  return new Tracing(tracing, (reason, count) => metrics.spansDropped(reason, count))
}

export interface InstanceOptions {
  logger?: Logger
  /** How an access log on standard output is written (PORTICO_LOG_FORMAT); JSON lines by default. */
  logFormat?: LogFormat
  /** Whether this process serves the admin port (workers leave it to their primary). */
  admin?: boolean
  /** Bind listeners with SO_REUSEPORT so every worker accepts on its own socket. */
  reusePort?: boolean
  /** The publisher API, when serving from a config store. */
  publisher?: Publisher
  /** What `/health` adds (the store's state). */
  health?: () => object
}

/** One Portico process: the gateway, its telemetry and (unless the workers' primary has it) the admin port. */
export class PorticoInstance {
  readonly gateway: Gateway
  readonly metrics: GatewayMetrics
  readonly admin: AdminServer | undefined
  readonly logger: Logger
  /** Shared with the request pipelines: a reload that changes `accessLog` swaps the access log in it. */
  readonly #telemetry: Telemetry
  readonly #stopStateLog: () => void
  /** Stops logging the reports of OpenAPI documents that prototype endpoints load. */
  readonly #stopDocumentLog: () => void
  /** Keeps dynamic endpoints away from the admin port while this instance runs. */
  #releaseAdminPort: () => void = () => {}
  readonly #logFormat: LogFormat | undefined

  private constructor(gateway: Gateway, telemetry: Telemetry, admin: AdminServer | undefined, stopDocumentLog: () => void, logFormat: LogFormat | undefined) {
    this.#stopDocumentLog = stopDocumentLog
    this.#logFormat = logFormat
    this.gateway = gateway
    this.metrics = telemetry.metrics
    this.admin = admin
    this.logger = telemetry.logger
    this.#telemetry = telemetry
    const { metrics, logger } = telemetry
    registerEndpointMetrics(metrics.registry, () => gateway.snapshot.roots)
    registerThrottlingMetrics(metrics.registry)
    this.#stopStateLog = logStateChanges(logger, (endpoint) =>
      [...gateway.snapshot.endpoints.values()].some((own: Endpoint) => own === endpoint || (own instanceof Delegating && own.wraps(endpoint))),
    )
  }

  static async start(config: ConfigModel, options: InstanceOptions = {}): Promise<PorticoInstance> {
    const logger = options.logger ?? createLogger()
    const metrics = new GatewayMetrics()
    const telemetry: Telemetry = { metrics, accessLog: openAccessLog(config, options.logFormat), logger, tracing: await startTracing(config, metrics), analytics: startAnalytics(config) }
    // Before the gateway starts: its prototype endpoints begin reading their documents as they are built.
    const stopDocumentLog = logDocumentReports(logger)
    let gateway: Gateway
    try {
      gateway = await Gateway.start(config, telemetry, { reusePort: options.reusePort ?? false })
    } catch (error) {
      stopDocumentLog()
      throw error
    }
    let admin: AdminServer | undefined
    if ((options.admin ?? true) && config.admin.enabled) {
      try {
        admin = await AdminServer.start(config.admin.host, config.admin.port, {
          metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
          endpoints: async () => ({ endpoints: gateway.snapshot.roots.map((endpoint) => endpoint.describe()), apis: Object.fromEntries(gateway.snapshot.rootIdsByApi) }),
          resetEndpoint: async (id) => {
            let count = 0
            for (const endpoint of gateway.snapshot.endpoints.values()) if (endpoint.id === id && endpoint.resetState?.('reset by an operator')) count++
            return count
          },
          // A plain listener first: "try it" then needs no certificate check against the node's own listener.
          gatewayUrls: () => gateway.addresses().map((address) => address.url).sort((a, b) => Number(b.startsWith('http:')) - Number(a.startsWith('http:'))),
          // Listeners are bound and the config loaded before the admin port opens: what is left is the APIs.
          ready: async () => readinessAnswer(gateway),
          ...(options.publisher ? { publisher: options.publisher } : {}),
          ...(options.health ? { health: options.health } : {}),
          analytics: async (query) => {
            const analytics = telemetry.analytics
            return analytics ? { on: true, report: analyticsReport([analytics.dump()], query) } : { on: false }
          },
        })
      } catch (error) {
        stopDocumentLog()
        await gateway.close()
        telemetry.accessLog?.close()
        await telemetry.tracing?.close()
        throw error
      }
    }
    const instance = new PorticoInstance(gateway, telemetry, admin, stopDocumentLog, options.logFormat)
    const adminPort = admin ? Number(new URL(admin.url).port) : config.admin.enabled ? config.admin.port : undefined
    if (adminPort) instance.#releaseAdminPort = protectPort(adminPort)
    return instance
  }

  /** This process's analytics data, for a workers' primary to add up; undefined while analytics are off. */
  analytics(): SeriesData[] | undefined {
    return this.#telemetry.analytics?.dump()
  }

  /**
   * Loads `file` with `reader` (which read the running config, so only what changed is parsed again) and swaps it
   * in; an invalid file keeps the running config and logs every problem.
   */
  async reloadFile(file: string, reader: ConfigReader): Promise<boolean> {
    try {
      await this.reload(await reader.load(file, { whileServing: true }), file)
      return true
    } catch (error) {
      // Whatever went wrong (an invalid file, a forbidden transition, a file an endpoint needs that is gone),
      // the running config stays and the process keeps serving.
      logRefusedConfig(this.logger, file, error)
      return false
    }
  }

  /** Swaps in `config` (see Gateway.reload), and the access log and tracer when their settings changed. */
  async reload(config: ConfigModel, file?: string, storeChecked = false): Promise<void> {
    const { accessLog: before, telemetry: telemetryBefore } = this.gateway.snapshot.config
    await this.gateway.reload(config, file, storeChecked)
    if (JSON.stringify(telemetryBefore?.tracing) !== JSON.stringify(config.telemetry.tracing)) await this.#swapTracing(config)
    if (JSON.stringify(telemetryBefore?.analytics) !== JSON.stringify(config.telemetry.analytics)) {
      // Kept across reloads while on; turned on afresh, turned off forgotten.
      const { enabled, maxSeries } = config.telemetry.analytics
      this.#telemetry.analytics = enabled ? (telemetryBefore?.analytics.enabled && telemetryBefore.analytics.maxSeries === maxSeries ? this.#telemetry.analytics : new TrafficAnalytics(maxSeries)) : undefined
    }
    if (JSON.stringify(before) === JSON.stringify(config.accessLog)) return
    const previous = this.#telemetry.accessLog
    // Requests write to whichever log the telemetry holds when they end: from now on, the new one.
    this.#telemetry.accessLog = openAccessLog(config, this.#logFormat)
    previous?.close()
    const { enabled, path } = config.accessLog
    this.logger.info({ accessLog: config.accessLog }, enabled ? `access log now written to ${path ?? 'standard output'}` : 'access log now off')
  }

  /** Requests that start from now on use the new tracer; the old one exports what it holds, then stops. */
  async #swapTracing(config: ConfigModel): Promise<void> {
    const previous = this.#telemetry.tracing
    this.#telemetry.tracing = await startTracing(config, this.metrics)
    previous?.close().catch((error: unknown) => this.logger.warn({ err: error }, 'the previous tracer did not shut down cleanly'))
    const tracing = config.telemetry.tracing
    this.logger.info({ tracing }, tracing ? `traces now exported to ${tracing.endpoint}` : 'tracing now off')
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
      this.#telemetry.accessLog?.close()
      closeCountStores()
      await this.#telemetry.tracing?.close()
    })()
    return this.#closing
  }
}
