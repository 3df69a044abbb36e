import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Where the admin server gets what it shows; with workers, the primary aggregates theirs. */
export interface AdminSource {
  metrics(): Promise<{ contentType: string; body: string }>
  endpoints(): Promise<unknown>
}

/** The admin port: `/metrics` for Prometheus, `/health`, and `/admin/endpoints` with the endpoint trees. */
export class AdminServer {
  readonly #server: Server

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(host: string, port: number, source: AdminSource): Promise<AdminServer> {
    const server = createServer((req, res) => {
      // Not the error's text: the admin port may be reachable by more people than its operators.
      route(req, res, source).catch(() => json(res, 500, { code: 'INTERNAL_ERROR', message: 'The admin request failed' }))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port }, () => {
        server.off('error', reject)
        resolve()
      })
    })
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

async function route(req: IncomingMessage, res: ServerResponse, source: AdminSource): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]
  if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { code: 'METHOD_NOT_ALLOWED', message: 'The admin API is read-only' })
  if (path === '/health') return json(res, 200, { status: 'ok' })
  if (path === '/metrics') {
    const { contentType, body } = await source.metrics()
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
    res.end(body)
    return
  }
  if (path === '/admin/endpoints') return json(res, 200, await source.endpoints())
  json(res, 404, { code: 'NO_ROUTE', message: `No admin resource at ${path}` })
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}
