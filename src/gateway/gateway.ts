import type { AddressInfo } from 'node:net'
import { checkTransitions } from '../config/lifecycle-check.ts'
import { ConfigError } from '../config/load.ts'
import type { ConfigModel, ListenerConfig } from '../config/schema.ts'
import { listen } from './bind.ts'
import { createListenerServer, type ListenerServer } from './listener.ts'
import { RequestPipeline, type Telemetry } from './pipeline.ts'
import { loadSnapshotModules, Snapshot } from './snapshot.ts'
import { formatPath } from '../config/path.ts'
import { TlsMaterialError } from '../security/listener-certificates.ts'

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
const LISTENER_LIMITS = ['maxHeaderBytes', 'maxHeaders', 'maxConcurrentStreams', 'headersTimeout', 'requestTimeout', 'keepAliveTimeout'] as const

export class Gateway {
  #snapshot: Snapshot
  readonly #servers: ListenerServer[] = []
  readonly #telemetry: Telemetry

  private constructor(config: ConfigModel, telemetry: Telemetry) {
    this.#snapshot = new Snapshot(config)
    this.#telemetry = telemetry
  }

  static async start(config: ConfigModel, telemetry: Telemetry, options: { reusePort: boolean } = { reusePort: false }): Promise<Gateway> {
    await loadSnapshotModules(config)
    const gateway = new Gateway(config, telemetry)
    try {
      for (const [index, listener] of config.listeners.entries()) {
        const pipeline = new RequestPipeline(() => gateway.#snapshot, listener, config.limits.maxHeaders, telemetry)
        const server = createListenerServer(pipeline, listener, config.limits, telemetry.logger, ['listeners', index])
        gateway.#servers.push(server)
        await listen(server.server, `listener ${listener.name}`, listener.host, listener.port, { reusePort: options.reusePort })
      }
    } catch (error) {
      await gateway.close()
      if (error instanceof TlsMaterialError) throw new ConfigError([{ file: 'config', path: formatPath(error.path), message: error.problem }])
      throw error
    }
    return gateway
  }

  get snapshot(): Snapshot {
    return this.#snapshot
  }

  addresses(): ListenerAddress[] {
    return this.#snapshot.config.listeners.map((listener, index) => {
      const server = this.#servers[index]!
      const address = server.server.address() as AddressInfo
      const host = listener.host === '0.0.0.0' || listener.host === '::' ? '127.0.0.1' : listener.host
      const bound = `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
      return { name: listener.name, port: address.port, bound, url: `${server.scheme}://${host.includes(':') ? `[${host}]` : host}:${address.port}` }
    })
  }

  /**
   * Compiles `config` and swaps it in. Throws ConfigError, keeping the running config, when an API's lifecycle
   * moves along a transition the lifecycle does not allow; unless `storeChecked`: a config store checked every
   * step already, and a node that catches up over several versions may see two at once (PUBLISHED to RETIRED).
   * The modules the new config needs are imported first; the snapshot is then built and swapped in one
   * synchronous step.
   */
  async reload(config: ConfigModel, file?: string, storeChecked = false): Promise<void> {
    // Imported first: from the check on, nothing awaits, so two reloads cannot interleave.
    await loadSnapshotModules(config, this.#snapshot)
    const issues = storeChecked ? [] : checkTransitions(this.#snapshot.config, config, file)
    if (issues.length > 0) throw new ConfigError(issues)
    const running = this.#snapshot.config.listeners
    if (config.listeners.length !== running.length || config.listeners.some((listener, index) => !sameListener(listener, running[index]!))) {
      this.#telemetry.logger.warn('listener changes take effect on restart; the running listeners are kept (certificates excepted)')
    }
    // Certificates are re-read on every reload (SIGHUP included), from the new config where it still has them.
    this.#servers.forEach((server, index) => {
      const tls = config.listeners[index]?.tls
      if (running[index]!.tls) server.reloadCertificates(tls && sameListener(config.listeners[index]!, running[index]!) ? tls : undefined)
    })
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
    await Promise.all(this.#servers.map((server) => server.close(graceMs)))
    await Promise.all([...new Set(this.#snapshot.endpoints.values())].map((endpoint) => endpoint.close()))
  }
}

/** Whether two listener configs differ only in their TLS material, which a reload applies. */
function sameListener(a: ListenerConfig, b: ListenerConfig): boolean {
  const shape = (listener: ListenerConfig) => JSON.stringify({ ...listener, tls: listener.tls ? { ...listener.tls, certificates: listener.tls.certificates.length, clientCertificates: listener.tls.clientCertificates?.mode } : undefined })
  return shape(a) === shape(b)
}
