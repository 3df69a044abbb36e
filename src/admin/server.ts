import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { listen } from '../gateway/bind.ts'
import type { GatewayRuntime, Publisher } from './publisher.ts'
import { ConsoleFiles } from './console-files.ts'
import { WINDOWS, type AnalyticsQuery, type WindowName } from '../telemetry/analytics.ts'

/** Where the admin server gets what it shows; with workers, the primary aggregates theirs. */
export interface AdminSource extends GatewayRuntime {
  metrics(): Promise<{ contentType: string; body: string }>
  /** Whether the gateway can serve its APIs now; `body` says what holds it back when not. */
  ready(): Promise<{ ready: boolean; body: object }>
  /** The publisher API under `/api/v1`, when the process serves from a store. */
  publisher?: Publisher
  /** What `/health` adds: the store's state when serving from one. */
  health?: () => object
  /** The analytics report, or `on: false` when `telemetry.analytics` is off. */
  analytics?(query: AnalyticsQuery): Promise<{ on: true; report: object } | { on: false }>
}

/**
 * The admin port: `/metrics` for Prometheus, `/health` (liveness: the process answers), `/ready` (readiness:
 * config loaded, listeners bound, every API with an endpoint ready), `/admin/endpoints` with the endpoint trees and
 * `/admin/analytics` with traffic over the last hour or week, and the web console at `/console`.
 */
export class AdminServer {
  readonly #server: Server

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(host: string, port: number, source: AdminSource): Promise<AdminServer> {
    const consoleFiles = new ConsoleFiles()
    source.publisher?.useRuntime(source)
    const server = createServer((req, res) => {
      // Not the error's text: the admin port may be reachable by more people than its operators.
      route(req, res, source, consoleFiles).catch(() => {
        if (res.headersSent) res.destroy()
        else json(res, 500, { code: 'INTERNAL_ERROR', message: 'The admin request failed' })
      })
    })
    await listen(server, 'admin', host, port)
    return new AdminServer(server)
  }

  get url(): string {
    const address = this.#server.address() as AddressInfo
    return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve())
      this.#server.closeAllConnections()
    })
  }
}

async function route(req: IncomingMessage, res: ServerResponse, source: AdminSource, consoleFiles: ConsoleFiles): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!
  if (source.publisher && (path === '/api/v1' || path.startsWith('/api/v1/'))) return source.publisher.handle(req, res, new URL(req.url ?? '/', 'http://admin'))
  if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { code: 'METHOD_NOT_ALLOWED', message: 'The admin API is read-only' })
  if (path === '/console' || path.startsWith('/console/')) return consoleFiles.serve(req, res, path)
  if (path === '/health') return json(res, 200, { status: 'ok', ...source.health?.() })
  if (path === '/ready') {
    const { ready, body } = await source.ready()
    return json(res, ready ? 200 : 503, body)
  }
  if (path === '/metrics') {
    const { contentType, body } = await source.metrics()
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
    res.end(body)
    return
  }
  if (path === '/admin/endpoints') return json(res, 200, await source.endpoints())
  if (path === '/admin/analytics' && source.analytics) return analytics(req, res, source.analytics)
  json(res, 404, { code: 'NO_ROUTE', message: `No admin resource at ${path}` })
}

/** `/admin/analytics?window=hour|week[&api=name:version][&resource=/template][&application=name]` */
async function analytics(req: IncomingMessage, res: ServerResponse, report: NonNullable<AdminSource['analytics']>): Promise<void> {
  const params = new URL(req.url ?? '/', 'http://admin').searchParams
  const window = params.get('window') ?? 'hour'
  if (!Object.hasOwn(WINDOWS, window)) return json(res, 400, { code: 'BAD_REQUEST', message: `window must be one of ${Object.keys(WINDOWS).join(', ')}, not "${window}"` })
  const query: AnalyticsQuery = {
    window: window as WindowName,
    api: params.get('api') ?? undefined,
    resource: params.get('resource') ?? undefined,
    application: params.get('application') ?? undefined,
  }
  const answer = await report(query)
  if (!answer.on) return json(res, 404, { code: 'ANALYTICS_OFF', message: 'Analytics are off: set telemetry.analytics.enabled to true' })
  json(res, 200, answer.report)
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}
