import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  rawHeaders: string[]
  body: Buffer
}

export interface TestBackend {
  url: string
  port: number
  server: Server
  /** Every request the backend received, in order, with its full body. */
  requests: RecordedRequest[]
  close(): Promise<void>
}

/**
 * A real HTTP server on 127.0.0.1 with an ephemeral port. The handler gets the request with its body read,
 * unless `streaming` is set, in which case it gets the live request to read itself.
 */
export async function startBackend(
  handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void,
  options: { streaming?: boolean; port?: number } = {},
): Promise<TestBackend> {
  const requests: RecordedRequest[] = []
  const server = createServer((req, res) => {
    if (options.streaming) {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0) })
      handler(req, res, Buffer.alloc(0))
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body })
      handler(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** A backend that answers every request with JSON describing what it received. */
export function startEchoBackend(name = 'echo'): Promise<TestBackend> {
  return startBackend((req, res, body) => {
    const payload = JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers, body: body.toString('utf8') })
    res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name })
    res.end(payload)
  })
}
