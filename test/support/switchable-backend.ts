import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { startBackend, type TestBackend } from './backend.ts'

/** How a switchable backend treats client requests (health checks on `/health` have their own switch). */
export type BackendMode = 'ok' | 'slow' | 'fail-503' | 'stall' | 'reset-after-body' | 'reset-mid-response'

export interface Received {
  backend: string
  method: string
  path: string
  /** sha256 of the body as received. */
  digest: string
  bytes: number
}

/**
 * A real backend with a name that can be stopped (connections then refused), started again on the same port,
 * told to answer 503, to stall, or to reset the connection after reading the body. Every client request it
 * received is appended to the shared `log`, so a test sees which backend got which request, in order.
 */
export class SwitchableBackend {
  readonly name: string
  readonly log: Received[]
  mode: BackendMode = 'ok'
  /** Health checks get no answer (until `release` or `stop`), as from a backend that hangs. */
  stallHealthChecks = false
  healthy = true
  healthChecks = 0
  #backend: TestBackend | undefined
  #port = 0
  /** Responses of stalled requests, released by `release()`. */
  readonly #stalled: ServerResponse[] = []

  private constructor(name: string, log: Received[]) {
    this.name = name
    this.log = log
  }

  static async start(name: string, log: Received[] = []): Promise<SwitchableBackend> {
    const backend = new SwitchableBackend(name, log)
    await backend.restart()
    return backend
  }

  get port(): number {
    return this.#port
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`
  }

  /** Client requests this backend received. */
  get received(): Received[] {
    return this.log.filter((entry) => entry.backend === this.name)
  }

  async restart(): Promise<void> {
    this.#backend = await startBackend((req, res, body) => this.#handle(req, res, body), this.#port ? { port: this.#port } : {})
    this.#port = this.#backend.port
  }

  async stop(): Promise<void> {
    this.release()
    await this.#backend?.close()
    this.#backend = undefined
  }

  /** Answers every stalled request with 200. */
  release(): void {
    for (const res of this.#stalled.splice(0)) if (!res.destroyed) res.end(`${this.name}:late`)
  }

  #handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const path = req.url!.split('?')[0]!
    if (path === '/health') {
      this.healthChecks++
      if (this.stallHealthChecks) return void this.#stalled.push(res)
      res.writeHead(this.healthy ? 200 : 500)
      res.end()
      return
    }
    this.log.push({ backend: this.name, method: req.method!, path, digest: createHash('sha256').update(body).digest('hex'), bytes: body.length })
    if (this.mode === 'stall') return void this.#stalled.push(res)
    if (this.mode === 'reset-after-body') return void req.socket.resetAndDestroy()
    if (this.mode === 'slow') {
      setTimeout(() => res.end(this.name), 150)
      return
    }
    if (this.mode === 'reset-mid-response') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' })
      res.write('the first bytes of a longer answer')
      setTimeout(() => req.socket.resetAndDestroy(), 20)
      return
    }
    if (this.mode === 'fail-503') {
      res.writeHead(503, { 'content-type': 'text/plain' })
      return void res.end(`${this.name} is failing`)
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': this.name })
    res.end(this.name)
  }
}

/** Backends of one test that share a log of what each received, in order; `stop` stops those started. */
export class Fleet {
  #started: SwitchableBackend[] = []

  async start(...names: string[]): Promise<SwitchableBackend[]> {
    const log: Received[] = []
    const backends = await Promise.all(names.map((name) => SwitchableBackend.start(name, log)))
    this.#started.push(...backends)
    return backends
  }

  async stop(): Promise<void> {
    const started = this.#started
    this.#started = []
    await Promise.all(started.map((backend) => backend.stop()))
  }
}

/** A port that nothing listens on: bound once to learn a free number, then released. */
export async function closedPort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A config with one API `/t/v1` whose production endpoint is the given YAML flow mapping. */
export function apiWith(endpoint: string): string {
  return `
apis:
  - name: t
    context: /t
    version: v1
    endpoints:
      production: ${endpoint}
`
}

/** Polls `condition` every 10 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
