import { getQuickJS, shouldInterruptAfterDeadline, type QuickJSWASMModule } from 'quickjs-emscripten'
import type { ScriptLimitsConfig } from './config.ts'
import type { PrototypeRequest } from './request.ts'
import type { PrototypeResponse } from './response.ts'

/** Why a script gave no response; its message is safe to show to the client that called the prototype. */
export class ScriptFailure extends Error {}

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

let quickJs: Promise<QuickJSWASMModule> | undefined

/**
 * Runs prototype scripts in QuickJS compiled to WebAssembly: a script sees only the request it is given, with no
 * `process`, `require`, timers or I/O, and each run gets a fresh runtime with its own memory limit and a deadline,
 * so nothing leaks from one request to the next and a runaway script cannot take the gateway with it.
 */
export class ScriptSandbox {
  readonly #source: string
  readonly #limits: ScriptLimitsConfig

  constructor(source: string, limits: ScriptLimitsConfig) {
    this.#source = source
    this.#limits = limits
    // Start compiling the WebAssembly module now, so the first request does not wait for it.
    quickJs ??= getQuickJS()
  }

  async respond(request: PrototypeRequest): Promise<PrototypeResponse> {
    const module = await (quickJs ??= getQuickJS())
    const output = this.#run(module, scriptRequest(request))
    return toResponse(output)
  }

  /** Evaluates the script on the request; returns the JSON text of what it returned. */
  #run(module: QuickJSWASMModule, request: ScriptRequest): string {
    const runtime = module.newRuntime()
    try {
      runtime.setMemoryLimit(this.#limits.memoryBytes)
      runtime.setMaxStackSize(512 * 1024)
      runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + this.#limits.time))
      const context = runtime.newContext()
      try {
        // The newlines keep a trailing `//` comment in the script from swallowing the call.
        const code = `(() => {
          const result = (\n${this.#source}\n)(${JSON.stringify(request)});
          if (result !== null && typeof result === 'object' && typeof result.then === 'function') throw new TypeError('the script returned a Promise; return the response object itself');
          return JSON.stringify(result === undefined ? null : result);
        })()`
        const result = context.evalCode(code, 'prototype-script.js')
        if (result.error) {
          const error: unknown = context.dump(result.error)
          result.error.dispose()
          throw new ScriptFailure(this.#describe(error))
        }
        const text: unknown = context.dump(result.value)
        result.value.dispose()
        if (typeof text !== 'string') throw new ScriptFailure('the script returned nothing; return { status, headers, body }')
        return text
      } finally {
        context.dispose()
      }
    } catch (error) {
      if (error instanceof ScriptFailure) throw error
      // The WebAssembly side itself gave up (for instance out of memory while building the error).
      throw new ScriptFailure(`the script could not run: ${(error as Error).message}`)
    } finally {
      runtime.dispose()
    }
  }

  #describe(error: unknown): string {
    const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown }
    if (name === 'InternalError' && message === 'interrupted') return `the script ran longer than its ${this.#limits.time} ms limit`
    if (message === 'out of memory' || (name === 'InternalError' && String(message).includes('memory'))) {
      return `the script needed more than its ${this.#limits.memoryBytes} bytes of memory`
    }
    if (name === 'InternalError' && message === 'stack overflow') return 'the script overflowed its stack (runaway recursion?)'
    if (typeof name === 'string' && typeof message === 'string') return `the script threw ${name}: ${message}`
    return `the script threw ${JSON.stringify(error)}`
  }
}

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
