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
  /** Whether the current worker has compiled QuickJS: the watchdog must not count its start-up against a script. */
  #ready = false
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
    this.#ready = false
    worker.on('message', (outcome: ScriptOutcome) => {
      if (!('ready' in outcome)) return this.#settle(outcome)
      if (this.#worker !== worker) return
      this.#ready = true
      this.#next()
    })
    let failure = 'it exited'
    worker.on('error', (error) => {
      failure = error.message
    })
    worker.on('exit', () => {
      if (this.#worker !== worker) return
      this.#worker = undefined
      if (this.#current) return this.#fail('the sandbox stopped while running the script; it was restarted')
      // It never became ready: starting another would fail the same way, so the waiting scripts fail now.
      for (const waiting of this.#queue.splice(0)) waiting.reject(new ScriptFailure(`the sandbox could not start: ${failure}`))
    })
    this.#worker = worker
    this.#holdOpen()
    return worker
  }

  /** An idle worker never keeps the process alive; one with scripts to run does, until they are done. */
  #holdOpen(): void {
    if (this.#current || this.#queue.length > 0) this.#worker?.ref()
    else this.#worker?.unref()
  }

  #next(): void {
    this.#holdOpen()
    if (this.#current || this.#queue.length === 0) return
    const worker = this.#ensureWorker()
    if (!this.#ready) return
    const next = this.#queue.shift()!
    this.#current = next
    worker.postMessage(next.job)
    this.#watchdog = setTimeout(() => {
      this.#worker = undefined
      void worker.terminate()
      this.#fail(`the script ran longer than its ${next.job.time} ms limit`)
    }, next.job.time + WATCHDOG_GRACE_MS)
  }

  #settle(outcome: Exclude<ScriptOutcome, { ready: true }>): void {
    const current = this.#current
    if (!current || current.job.id !== outcome.id) return
    // Forget a worker that is exiting before the next job is handed to it.
    if (!outcome.ok && outcome.broken) this.#worker = undefined
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
