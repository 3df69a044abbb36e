import { Worker } from 'node:worker_threads'
import type { ScriptLimitsConfig } from './config.ts'
import type { PrototypeRequest } from './request.ts'
import type { PrototypeResponse } from './response.ts'
import type { ScriptJob, ScriptOutcome } from './script-worker.ts'

/** Why a script gave no response; its message is safe to show to the client that called the prototype. */
export class ScriptFailure extends Error {}

/** The script was not run because too many are waiting: the request may be retried. */
export class SandboxBusy extends Error {}

/**
 * Scripts waiting for the worker, at most. Each holds its request (body included) in memory, and at 50 ms a
 * script the last of them already waits seconds: past this, new requests are turned away at once.
 */
export const MAX_WAITING_SCRIPTS = 64

/**
 * How long past its own deadline a script may take before the worker running it is killed. QuickJS checks its
 * deadline between instructions, but a garbage collection near the memory limit can run for seconds without
 * checking: the watchdog bounds that too.
 */
const WATCHDOG_GRACE_MS = 250

/** What a script receives: plain data only, no functions or handles into the gateway. */
interface ScriptRequest {
  method: string
  path: string
  uriVariables: Record<string, string>
  query: Record<string, string | string[]>
  headers: Record<string, string>
  body: string
  /** The body parsed, when it is JSON. */
  json: unknown
}

/**
 * A resource's script. Scripts run in QuickJS compiled to WebAssembly, in a worker thread: a script sees only the
 * request it is given (no `process`, `require`, timers or I/O), each run starts from a fresh runtime with a
 * memory limit and a deadline, and a script that still does not let go is stopped by killing its worker, so
 * neither the gateway's event loop nor its memory is ever at a script's mercy.
 */
export class ScriptSandbox {
  readonly #source: string
  readonly #limits: ScriptLimitsConfig

  constructor(source: string, limits: ScriptLimitsConfig) {
    this.#source = source
    this.#limits = limits
    // Start the worker now, so the first request does not wait for QuickJS to compile.
    sandboxWorker.warm()
  }

  /** Rejects with ScriptFailure, SandboxBusy, or the signal's reason when the client leaves before its turn. */
  async respond(request: PrototypeRequest, signal: AbortSignal): Promise<PrototypeResponse> {
    const output = await sandboxWorker.run(this.#source, JSON.stringify(scriptRequest(request)), this.#limits, signal)
    return toResponse(output)
  }
}

interface Job {
  readonly job: ScriptJob
  resolve(output: string): void
  reject(error: unknown): void
}

/** The one worker thread of this process that runs scripts, one at a time, replaced whenever it fails. */
class SandboxWorker {
  #worker: Worker | undefined
  readonly #queue: Job[] = []
  #current: Job | undefined
  #watchdog: NodeJS.Timeout | undefined
  #nextId = 1

  warm(): void {
    this.#ensureWorker()
  }

  run(source: string, requestJson: string, limits: ScriptLimitsConfig, signal: AbortSignal): Promise<string> {
    if (this.#queue.length >= MAX_WAITING_SCRIPTS) {
      return Promise.reject(new SandboxBusy(`${MAX_WAITING_SCRIPTS} scripts are already waiting for the sandbox`))
    }
    return new Promise((resolve, reject) => {
      const job: ScriptJob = { id: this.#nextId++, source, requestJson, time: limits.time, memoryBytes: limits.memoryBytes }
      const entry: Job = { job, resolve, reject }
      // A client that leaves before its turn takes its script out of the line; one already running finishes.
      signal.addEventListener('abort', () => {
        const at = this.#queue.indexOf(entry)
        if (at < 0) return
        this.#queue.splice(at, 1)
        reject(signal.reason)
      }, { once: true })
      this.#queue.push(entry)
      this.#next()
    })
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker
    const worker = new Worker(new URL('./script-worker.ts', import.meta.url))
    worker.on('message', (outcome: ScriptOutcome) => this.#settle(outcome))
    worker.on('error', () => undefined)
    worker.on('exit', () => {
      if (this.#worker !== worker) return
      this.#worker = undefined
      this.#fail('the sandbox stopped while running the script; it was restarted')
    })
    // After the listeners, which would otherwise hold the process open: the sandbox never keeps it alive.
    worker.unref()
    this.#worker = worker
    return worker
  }

  #next(): void {
    if (this.#current) return
    const next = this.#queue.shift()
    if (!next) return
    this.#current = next
    this.#ensureWorker().postMessage(next.job)
    this.#watchdog = setTimeout(() => {
      const worker = this.#worker
      this.#worker = undefined
      void worker?.terminate()
      this.#fail(`the script ran longer than its ${next.job.time} ms limit`)
    }, next.job.time + WATCHDOG_GRACE_MS)
  }

  #settle(outcome: ScriptOutcome): void {
    const current = this.#current
    if (!current || current.job.id !== outcome.id) return
    this.#finish()
    if (outcome.ok) current.resolve(outcome.output)
    else current.reject(new ScriptFailure(outcome.message))
  }

  #fail(message: string): void {
    const current = this.#current
    if (!current) return
    this.#finish()
    current.reject(new ScriptFailure(message))
  }

  #finish(): void {
    clearTimeout(this.#watchdog)
    this.#current = undefined
    queueMicrotask(() => this.#next())
  }
}

const sandboxWorker = new SandboxWorker()

function scriptRequest(request: PrototypeRequest): ScriptRequest {
  const query: Record<string, string | string[]> = {}
  for (const name of new Set(request.query.keys())) {
    const values = request.query.getAll(name)
    query[name] = values.length === 1 ? values[0]! : values
  }
  const body = request.body.toString('utf8')
  let json: unknown = null
  if (/\bjson\b/i.test(request.headers['content-type'] ?? '') && body) {
    try {
      json = JSON.parse(body)
    } catch {
      json = null
    }
  }
  return { method: request.method, path: request.path, uriVariables: { ...request.uriVariables }, query, headers: { ...request.headers }, body, json }
}

/** Checks what the script returned: `{ status?, headers?, body? }`; text bodies as they are, others as JSON. */
function toResponse(output: string): PrototypeResponse {
  const value = JSON.parse(output) as unknown
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ScriptFailure(`the script returned ${output.slice(0, 100)}; return an object { status, headers, body }`)
  }
  const { status = 200, headers = {}, body } = value as { status?: unknown; headers?: unknown; body?: unknown }
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
    throw new ScriptFailure(`the script returned status ${JSON.stringify(status)}; use a whole number from 200 to 599`)
  }
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw new ScriptFailure('the script returned "headers" that are not an object of names and values')
  }
  const out: Record<string, string> = {}
  for (const [name, headerValue] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(String(headerValue))) {
      throw new ScriptFailure(`the script returned an invalid header "${name.slice(0, 60)}"`)
    }
    out[name.toLowerCase()] = String(headerValue)
  }
  if (body === undefined || body === null) return { status, headers: out, body: '' }
  if (typeof body === 'string') {
    out['content-type'] ??= 'text/plain; charset=utf-8'
    return { status, headers: out, body }
  }
  out['content-type'] ??= 'application/json'
  return { status, headers: out, body: JSON.stringify(body) }
}
