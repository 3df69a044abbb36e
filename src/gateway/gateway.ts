import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { checkTransitions } from '../config/lifecycle-check.ts'
import { ConfigError } from '../config/load.ts'
import type { ConfigModel } from '../config/schema.ts'
import { listen } from './bind.ts'
import { createListenerServer } from './listener.ts'
import { RequestPipeline, type Telemetry } from './pipeline.ts'
import { loadSnapshotModules, Snapshot } from './snapshot.ts'

export interface ListenerAddress {
  name: string
  url: string
  port: number
  /** The address the socket is bound to, as the system reports it (`0.0.0.0:8280`, `[::1]:8280`). */
  bound: string
}

/**
 * The data plane of one process: its listeners and the current snapshot. `reload` swaps in a new snapshot
 * atomically; requests in flight finish on the one they started with.
 */
/** Limits the listening sockets are created with; the others (body limits, shutdownTimeout) apply on reload. */
const LISTENER_LIMITS = ['maxHeaderBytes', 'maxHeaders', 'headersTimeout', 'requestTimeout', 'keepAliveTimeout'] as const

export class Gateway {
  #snapshot: Snapshot
  readonly #servers: Server[] = []
  readonly #telemetry: Telemetry

  private constructor(config: ConfigModel, telemetry: Telemetry) {
    this.#snapshot = new Snapshot(config)
    this.#telemetry = telemetry
  }

  static async start(config: ConfigModel, telemetry: Telemetry, options: { reusePort: boolean } = { reusePort: false }): Promise<Gateway> {
    await loadSnapshotModules(config)
    const gateway = new Gateway(config, telemetry)
    try {
      for (const listener of config.listeners) {
        const pipeline = new RequestPipeline(() => gateway.#snapshot, listener, config.limits.maxHeaders, telemetry)
        const server = createListenerServer(pipeline, config.limits)
        gateway.#servers.push(server)
        await listen(server, `listener ${listener.name}`, listener.host, listener.port, { reusePort: options.reusePort })
      }
    } catch (error) {
      await gateway.close()
      throw error
    }
    return gateway
  }

  get snapshot(): Snapshot {
    return this.#snapshot
  }

  addresses(): ListenerAddress[] {
    return this.#snapshot.config.listeners.map((listener, index) => {
      const address = this.#servers[index]!.address() as AddressInfo
      const host = listener.host === '0.0.0.0' || listener.host === '::' ? '127.0.0.1' : listener.host
      const bound = `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
      return { name: listener.name, port: address.port, bound, url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}` }
    })
  }

  /**
   * Compiles `config` and swaps it in. Throws ConfigError, keeping the running config, when an API's lifecycle
   * moves along a transition the lifecycle does not allow. The modules the new config needs are imported first;
   * the snapshot is then built and swapped in one synchronous step.
   */
  async reload(config: ConfigModel, file?: string): Promise<void> {
    // Imported first: from the check on, nothing awaits, so two reloads cannot interleave.
    await loadSnapshotModules(config)
    const issues = checkTransitions(this.#snapshot.config, config, file)
    if (issues.length > 0) throw new ConfigError(issues)
    if (JSON.stringify(config.listeners) !== JSON.stringify(this.#snapshot.config.listeners)) {
      this.#telemetry.logger.warn('listener changes take effect on restart; the running listeners are kept')
    }
    const changedLimits = LISTENER_LIMITS.filter((name) => config.limits[name] !== this.#snapshot.config.limits[name])
    if (changedLimits.length > 0) {
      this.#telemetry.logger.warn({ limits: changedLimits }, `limits.${changedLimits.join(', limits.')} take effect on restart; the running values are kept`)
    }
    const previous = this.#snapshot
    const next = new Snapshot({ ...config, listeners: previous.config.listeners }, previous)
    this.#snapshot = next
    // Requests that started on the previous snapshot may still be on their way to a retired endpoint (awaiting
    // a mediation sequence, or a failover's next attempt): close what it retires once they have all finished.
    const retired = previous.retiredBy(next)
    void previous.drained().then(() => {
      for (const endpoint of retired) {
        endpoint.close().catch((error: unknown) => this.#telemetry.logger.warn({ err: error, endpoint: endpoint.id }, 'closing an endpoint failed'))
      }
    })
    this.#telemetry.logger.info({ apis: next.apis.length }, 'config reloaded')
  }

  /**
   * Stops accepting connections and lets requests in flight finish; each connection is closed as soon as it is
   * idle (not after keepAliveTimeout), and whatever still runs after `limits.shutdownTimeout` is cut off.
   */
  async close(): Promise<void> {
    const graceMs = this.#snapshot.config.limits.shutdownTimeout
    await Promise.all(
      this.#servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server.listening) return resolve()
            const sweep = setInterval(() => server.closeIdleConnections(), 50)
            const deadline = setTimeout(() => server.closeAllConnections(), graceMs)
            server.close(() => {
              clearInterval(sweep)
              clearTimeout(deadline)
              resolve()
            })
            server.closeIdleConnections()
          }),
      ),
    )
    await Promise.all([...new Set(this.#snapshot.endpoints.values())].map((endpoint) => endpoint.close()))
  }
}
