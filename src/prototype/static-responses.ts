import { extname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { readLocalFileSync } from '../core/local-file.ts'
import { MAX_PROTOTYPE_FILE_BYTES, type StaticResponseConfig } from './config.ts'
import type { PrototypeRequest } from './request.ts'
import type { PrototypeResponse } from './response.ts'

/** Content types for files served as bodies, by extension; anything else is sent as bytes. */
const FILE_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.txt': 'text/plain; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
}

type Condition = (request: PrototypeRequest) => boolean

interface CompiledResponse {
  readonly holds: Condition
  readonly response: PrototypeResponse
  readonly delay: number
}

/** A resource's list of fixed responses, each chosen by what the request carries; compiled once at load. */
export class StaticResponses {
  readonly #responses: readonly CompiledResponse[]

  constructor(configs: readonly StaticResponseConfig[]) {
    this.#responses = configs.map((config) => ({ holds: condition(config), response: fixedResponse(config), delay: config.delay }))
  }

  /** The first response whose conditions hold, after its delay; undefined when none holds. */
  async respond(request: PrototypeRequest, signal: AbortSignal): Promise<PrototypeResponse | undefined> {
    const chosen = this.#responses.find((candidate) => candidate.holds(request))
    if (!chosen) return undefined
    if (chosen.delay > 0) await sleep(chosen.delay, undefined, { signal })
    return chosen.response
  }
}

function fixedResponse(config: StaticResponseConfig): PrototypeResponse {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(config.headers)) headers[name.toLowerCase()] = value
  let body: Buffer | string = ''
  let type: string | undefined
  if (config.file !== undefined) {
    body = readLocalFileSync(config.file, MAX_PROTOTYPE_FILE_BYTES)
    type = FILE_TYPES[extname(config.file).toLowerCase()] ?? 'application/octet-stream'
  } else if (typeof config.body === 'string') {
    body = config.body
    type = 'text/plain; charset=utf-8'
  } else if (config.body !== undefined) {
    body = JSON.stringify(config.body)
    type = 'application/json'
  }
  if (type && headers['content-type'] === undefined) headers['content-type'] = type
  return { status: config.status, headers, body }
}

function condition(config: StaticResponseConfig): Condition {
  const checks: Condition[] = []
  for (const [name, expected] of Object.entries(config.when?.query ?? {})) {
    const allowed = new Set(typeof expected === 'string' ? [expected] : expected)
    checks.push((request) => request.query.getAll(name).some((value) => allowed.has(value)))
  }
  for (const [name, expected] of Object.entries(config.when?.headers ?? {})) {
    const allowed = new Set(typeof expected === 'string' ? [expected] : expected)
    const key = name.toLowerCase()
    checks.push((request) => {
      const value = request.headers[key]
      return value !== undefined && allowed.has(value)
    })
  }
  for (const [name, expected] of Object.entries(config.when?.uriVariables ?? {})) {
    const allowed = new Set(typeof expected === 'string' ? [expected] : expected)
    checks.push((request) => {
      const value = request.uriVariables[name]
      return value !== undefined && allowed.has(value)
    })
  }
  return (request) => checks.every((check) => check(request))
}
