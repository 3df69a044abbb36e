import { hostname } from 'node:os'
import { Publisher } from '../admin/publisher.ts'
import { ConfigReader } from '../config/reader.ts'
import { watchVersions } from '../store/change-feed.ts'
import { hashOfJson } from '../store/document.ts'
import { apiOfDocument, jsonWithList, type VersionApi } from '../store/revision-apis.ts'
import { ConfigStore } from '../store/store.ts'
import type { LogFormat } from '../telemetry/log-format.ts'
import type { Logger } from '../telemetry/logger.ts'
import { AppliedCopy } from './applied-copy.ts'
import { PorticoInstance } from './instance.ts'
import { logAdmin, startWorkers, type WorkersOptions } from './workers.ts'

export interface StoreNodeOptions {
  /** The gateway environment (deployment label) this node serves. */
  environment: string
  /** How often to look for a new version even without a notification. */
  pollMs: number
  /** Where the node keeps its copy of the last applied config (default: the SQLite data directory, or ./portico-data). */
  dataDirectory?: string
  nodeId?: string
  /** Ports of this node that differ from the store's settings (several nodes on one machine). */
  port?: number
  adminPort?: number
  /** Worker processes sharing the listeners (above 1: this process is their primary and serves none itself). */
  workers?: number
  /** How an access log on standard output is written (PORTICO_LOG_FORMAT). */
  logFormat?: LogFormat
}

const RETRY_MS = 2000

/**
 * Serves what a config store holds: the latest config version at start, then every newer one, each built beside the
 * running snapshot and swapped in (as a file reload); a version the node cannot apply leaves it on its last good
 * one. Each node records what it applied, so the publisher API can tell whether a deployment reached every node,
 * and keeps a copy on its disk: started while the database is unreachable, it serves that copy and catches up once
 * the database answers.
 */
export async function serveFromStore(url: string, options: StoreNodeOptions, logger: Logger): Promise<{ instance: PorticoInstance | undefined; adminUrl: string | undefined; stop: () => Promise<void> }> {
  const store = ConfigStore.create(url)
  const nodeId = options.nodeId ?? `${hostname()}:${process.pid}`
  const copy = new AppliedCopy(options.dataDirectory ?? (store.engine === 'sqlite' ? store.location.target : 'portico-data'), options.environment)
  /** A version as this node serves it: its own ports over the store's settings. */
  const nodeVersion = (version: { version: number; hash: string; settings: Record<string, unknown>; apis: VersionApi[] }): NodeVersion => ({ version: version.version, hash: version.hash, head: withPorts(version.settings, options), apis: version.apis })

  let connected = false
  let start: NodeVersion
  try {
    await connectStore(store)
    connected = true
    start = nodeVersion((await store.versionFor(options.environment)) ?? { version: 0, hash: hashOfJson('{}'), settings: {}, apis: [] })
  } catch (error) {
    const cached = copy.read()
    if (!cached) throw error
    logger.warn({ err: (error as Error).message, version: cached.version, copy: copy.file }, `the store is unreachable; serving the local copy of config version ${cached.version}`)
    const { apis, ...head } = cached.config as { apis?: Record<string, unknown>[] }
    start = { version: cached.version, head, apis: (apis ?? []).map(apiOfDocument), hash: cached.hash }
  }
  let applied = start.version
  const publisher = new Publisher(store)
  const health = () => ({ store: { engine: store.engine, connected, appliedVersion: applied, node: nodeId } })
  const served = options.workers !== undefined && options.workers > 1
    ? await serveWithWorkers(start, `store version ${applied}`, options.workers, logger, { publisher, health })
    : await serveInProcess(start, `store version ${applied}`, store.readerFor(options.environment), logger, { publisher, health }, options.logFormat)
  const record = async (version: NodeVersion) => {
    await copy.write(version.version, version.hash, configJson(version.head, version.apis))
    await store.recordApplied(nodeId, version.version, version.hash)
  }
  if (connected) await record(start)
  logger.info({ store: store.engine, version: applied, node: nodeId }, `serving config version ${applied} from the ${store.engine} store`)

  const catchUp = async () => {
    const found = await store.versionFor(options.environment, applied)
    if (!found) return
    const next = nodeVersion(found)
    try {
      await served.apply(next, `store version ${next.version}`)
    } catch (error) {
      // The node stays on its last good config and says why, once per version.
      applied = next.version
      logger.error({ version: next.version, err: (error as Error).message }, `config version ${next.version} refused; serving the previous one`)
      await store.recordApplied(nodeId, next.version, '', (error as Error).message)
      return
    }
    applied = next.version
    logger.info({ version: next.version }, `applied config version ${next.version}`)
    await record(next)
  }

  let running: Promise<void> | undefined
  let again = false
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
  let stopped = false
  let stopWatching = () => {}
  let retry: NodeJS.Timeout | undefined
  const follow = () => {
    stopWatching = watchVersions(store, wake, {
      pollMs: options.pollMs,
      onState: (up) => {
        if (up !== connected) logger[up ? 'info' : 'warn'](up ? 'store connection up' : 'store connection lost; serving the last applied config')
        connected = up
      },
    })
  }
  const reconnect = async () => {
    if (stopped) return
    try {
      await connectStore(store)
      connected = true
      logger.info('store reachable again; catching up')
      follow()
      wake()
    } catch {
      retry = setTimeout(() => void reconnect(), RETRY_MS)
    }
  }
  if (connected) follow()
  else retry = setTimeout(() => void reconnect(), RETRY_MS)

  const stop = async () => {
    stopped = true
    clearTimeout(retry)
    stopWatching()
    await running
    await served.close()
    await store.close()
  }
  return { instance: served.instance, adminUrl: served.adminUrl, stop }
}

/** A config version as a node serves it. */
interface NodeVersion {
  version: number
  /** The settings with this node's ports over them. */
  head: Record<string, unknown>
  apis: VersionApi[]
  /** The version's, as the store wrote it: nodes serving one version report one hash. */
  hash: string
}

/** A node's config as JSON (what it serves, for its local copy and its workers), from its APIs' JSON. */
function configJson(head: Record<string, unknown>, apis: readonly VersionApi[]): string {
  return jsonWithList(head, 'apis', apis.map((api) => api.json()))
}

/** What serves a store node's config: one gateway in this process, or the workers of this primary. */
interface Served {
  /** The gateway, when it runs in this process. */
  instance?: PorticoInstance
  adminUrl?: string
  /** Swaps `version` in (a store checked its lifecycle steps); throws, keeping the running one, when refused. */
  apply(version: NodeVersion, label: string): Promise<void>
  close(): Promise<void>
}

async function serveInProcess(version: NodeVersion, label: string, reader: ConfigReader, logger: Logger, admin: WorkersOptions, logFormat: LogFormat | undefined): Promise<Served> {
  // Each version is validated again here, but only in the APIs that changed since the last one (the store's reader).
  const instance = await PorticoInstance.start(reader.parseKeyed(version.head, version.apis, label), { logger, ...admin, ...(logFormat ? { logFormat } : {}) })
  for (const address of instance.gateway.addresses()) logger.info({ listener: address.name, url: address.url }, `listening on ${address.bound} (listener ${address.name})`)
  if (instance.admin) logAdmin(logger, instance.admin.url, instance.gateway.snapshot.config.admin.allowRemote)
  return {
    instance,
    ...(instance.admin ? { adminUrl: instance.admin.url } : {}),
    apply: (next, nextLabel) => instance.reload(reader.parseKeyed(next.head, next.apis, nextLabel), nextLabel, true),
    close: () => instance.close(),
  }
}

/**
 * The primary of `--workers N` serving a store: it alone follows the store (one listening connection per node)
 * and checks each version once; every worker gets the version's config and swaps it in as on a file reload.
 */
async function serveWithWorkers(version: NodeVersion, label: string, count: number, logger: Logger, admin: WorkersOptions): Promise<Served> {
  const reader = new ConfigReader()
  const workers = await startWorkers(configJson(version.head, version.apis), label, count, logger, { ...admin, config: reader.parseKeyed(version.head, version.apis, label) })
  await workers.started
  return {
    ...(workers.adminUrl ? { adminUrl: workers.adminUrl } : {}),
    apply: async (next, nextLabel) => {
      reader.parseKeyed(next.head, next.apis, nextLabel)
      await workers.apply(configJson(next.head, next.apis), nextLabel)
    },
    close: () => workers.stop(),
  }
}

/** Migrates, and on a store without admin tokens prints the first one: shown this once, stored only hashed. */
async function connectStore(store: ConfigStore): Promise<void> {
  await store.prepare()
  const token = await store.firstToken()
  if (token) process.stdout.write(`Admin token (shown once, keep it): ${token}\n`)
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
