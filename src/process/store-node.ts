import { hostname } from 'node:os'
import { Publisher } from '../admin/publisher.ts'
import { parseConfig } from '../config/load.ts'
import type { ConfigModel } from '../config/schema.ts'
import { watchVersions } from '../store/change-feed.ts'
import { hashOf, nodeConfig } from '../store/document.ts'
import { ConfigStore } from '../store/store.ts'
import type { Logger } from '../telemetry/logger.ts'
import { PorticoInstance } from './instance.ts'
import { logAdmin } from './workers.ts'

export interface StoreNodeOptions {
  /** The gateway environment (deployment label) this node serves. */
  environment: string
  /** How often to look for a new version even without a notification. */
  pollMs: number
  nodeId?: string
  /** Ports of this node that differ from the store's settings (several nodes on one machine). */
  port?: number
  adminPort?: number
}

/**
 * Serves what a config store holds: the latest config version at start, then every newer one, each built beside the
 * running snapshot and swapped in (as a file reload); a version the node cannot apply leaves it on its last good
 * one. Each node records what it applied, so the publisher API can tell whether a deployment reached every node.
 */
export async function serveFromStore(url: string, options: StoreNodeOptions, logger: Logger): Promise<{ instance: PorticoInstance; stop: () => Promise<void> }> {
  const store = await ConfigStore.open(url)
  const nodeId = options.nodeId ?? `${hostname()}:${process.pid}`
  const token = await store.firstToken()
  // Shown this once and stored only as a hash: there are no default credentials.
  if (token) process.stdout.write(`Admin token (shown once, keep it): ${token}\n`)
  const latest = await store.latestVersion()
  let applied = latest?.version ?? 0
  const build = (document: Parameters<typeof nodeConfig>[0] | undefined, version: number): { config: ConfigModel; hash: string } => {
    const raw = document ? nodeConfig(document, options.environment) : {}
    return { config: parseConfig(JSON.stringify(withPorts(raw, options)), `store version ${version}`), hash: hashOf(raw) }
  }
  const first = build(latest?.document, applied)
  let connected = store.engine === 'sqlite'
  const instance = await PorticoInstance.start(first.config, {
    logger,
    publisher: new Publisher(store),
    health: () => ({ store: { engine: store.engine, connected, appliedVersion: applied, node: nodeId } }),
  })
  await store.recordApplied(nodeId, applied, first.hash)
  for (const address of instance.gateway.addresses()) logger.info({ listener: address.name, url: address.url }, `listening on ${address.bound} (listener ${address.name})`)
  if (instance.admin) logAdmin(logger, instance.admin.url, instance.gateway.snapshot.config.admin.allowRemote)
  logger.info({ store: store.engine, version: applied, node: nodeId }, `serving config version ${applied} from the ${store.engine} store`)

  let running: Promise<void> | undefined
  let again = false
  const catchUp = async () => {
    const next = await store.latestVersion()
    if (!next || next.version <= applied) return
    try {
      const built = build(next.document, next.version)
      instance.reload(built.config, `store version ${next.version}`, true)
      applied = next.version
      await store.recordApplied(nodeId, next.version, built.hash)
      logger.info({ version: next.version }, `applied config version ${next.version}`)
    } catch (error) {
      // The node stays on its last good config and says why, once per version.
      applied = next.version
      logger.error({ version: next.version, err: (error as Error).message }, `config version ${next.version} refused; serving the previous one`)
      await store.recordApplied(nodeId, next.version, '', (error as Error).message).catch(() => {})
    }
  }
  const wake = () => {
    if (running) {
      again = true
      return
    }
    running = catchUp()
      .catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'the store is unreachable; serving the last applied config'))
      .finally(() => {
        running = undefined
        if (again) {
          again = false
          wake()
        }
      })
  }
  const stopWatching = watchVersions(store, wake, {
    pollMs: options.pollMs,
    onState: (up) => {
      if (up !== connected) logger[up ? 'info' : 'warn'](up ? 'store connection up' : 'store connection lost; serving the last applied config')
      connected = up
    },
  })
  const stop = async () => {
    stopWatching()
    await running
    await instance.close()
    await store.close()
  }
  return { instance, stop }
}

/** The node's own ports over the store's settings: the first listener's and the admin port. */
function withPorts(raw: Record<string, unknown>, options: StoreNodeOptions): Record<string, unknown> {
  const out = { ...raw }
  if (options.port !== undefined) {
    const listeners = Array.isArray(raw.listeners) && raw.listeners.length > 0 ? [...(raw.listeners as object[])] : [{}]
    listeners[0] = { ...listeners[0], port: options.port }
    out.listeners = listeners
  }
  if (options.adminPort !== undefined) out.admin = { ...(raw.admin as object | undefined), port: options.adminPort }
  return out
}
