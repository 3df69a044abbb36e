import { Agent, request, type Dispatcher } from 'undici'
import { TargetGuard, TargetRefused } from '../endpoints/target-guard.ts'
import { apiBasePaths } from '../config/schema.ts'

/** How long the console's calls wait for a backend or the gateway before giving up. */
const CALL_TIMEOUT = 10_000
/** How much of an answer's body the console shows. */
const BODY_SHOWN = 64 * 1024
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

export interface CallAnswer {
  status: number
  headers: Record<string, string | string[]>
  body: string
  truncated: boolean
  timeMs: number
}

export interface LeafTest {
  /** Where the leaf sits in the endpoint, e.g. `production.endpoints[1]`. */
  at: string
  type: string
  url?: string
  answer?: CallAnswer
  /** Why it was not called, or why the call failed. */
  error?: string
}

type EndpointLike = { type?: unknown; url?: unknown; endpoints?: unknown }

export class CallRefused extends Error {
  readonly path: string
  constructor(path: string, message: string) {
    super(message)
    this.path = path
  }
}

/** The console's call could not be made or had no answer (nothing listens, a timeout): not the store's fault. */
export class CallFailed extends Error {}

/** Headers a client may not set on the console's request: they belong to the connection, which undici manages. */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer', 'proxy-connection', 'content-length', 'host'])

export function checkedMethod(method: unknown): string {
  const upper = typeof method === 'string' ? method.toUpperCase() : 'GET'
  if (!METHODS.has(upper)) throw new CallRefused('method', `must be one of ${[...METHODS].join(', ')}`)
  return upper
}

function checkedPath(path: unknown): string {
  const given = typeof path === 'string' && path !== '' ? path : '/'
  if (!/^\/[^\s#]*$/.test(given)) throw new CallRefused('path', 'must start with "/" and hold no spaces or "#"')
  return given
}

/**
 * "Test endpoint": calls every leaf of an endpoint that has an address with the method and path given, from this
 * node, within the rules of dynamic endpoints (never link-local addresses or cloud metadata services, never the
 * gateway's own admin port, also after DNS). Leaves whose address is not fixed (WSDL, dynamic, Lambda, mocks) are
 * listed with the reason they were not called.
 */
export async function testEndpoint(endpoint: unknown, environment: string, method: unknown, path: unknown): Promise<LeafTest[]> {
  const verb = checkedMethod(method)
  const suffix = checkedPath(path)
  const leaves: { at: string; config: EndpointLike }[] = []
  const walk = (config: EndpointLike, at: string) => {
    if (Array.isArray(config.endpoints)) config.endpoints.forEach((child: EndpointLike, index: number) => walk(child, `${at}.endpoints[${index}]`))
    else leaves.push({ at, config })
  }
  walk((endpoint ?? {}) as EndpointLike, environment)
  return Promise.all(leaves.map(async ({ at, config }) => {
    const type = String(config.type)
    const address = type === 'http' || type === 'soap' || type === 'prototype' ? config.url : undefined
    if (typeof address !== 'string') return { at, type, error: notCalled(type) }
    let url: string
    try {
      url = joinUrl(address, suffix)
    } catch {
      // A reference the node resolves (`${env:...}`) or an address no node could call.
      return { at, type, error: 'the address is not a URL this node can call as written' }
    }
    try {
      return { at, type, url, answer: await guardedCall(url, verb) }
    } catch (error) {
      return { at, type, url, error: error instanceof TargetRefused ? `refused: ${error.message}` : describeFailure(error) }
    }
  }))
}

function notCalled(type: string): string {
  switch (type) {
    case 'wsdl': return 'the address is read from the WSDL when the API is served; call the API to test it'
    case 'dynamic': return 'the address is chosen per request by the mediation sequence'
    case 'lambda': return 'a Lambda function has no address to call; call the API to test it'
    case 'prototype': return 'a mock answers from the gateway itself'
    default: return `a ${type} endpoint has no address to call`
  }
}

/** The leaf's address up to its first URI-template variable, then the path to test. */
function joinUrl(address: string, path: string): string {
  const base = address.split('{')[0]!.replace(/\/+$/, '')
  const url = new URL(base)
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}${path}`
}

async function guardedCall(url: string, method: string): Promise<CallAnswer> {
  const { hostname, protocol } = new URL(url)
  const guard = new TargetGuard({ allow: [{ host: hostname, schemes: [protocol.slice(0, -1) as 'http' | 'https'] }], allowLinkLocal: false, allowAdminPort: false })
  const checked = guard.check(url)
  const agent = new Agent({ connect: { lookup: guard.lookupFor(checked.port), timeout: CALL_TIMEOUT }, connections: 1 })
  try {
    return await call(url, method, {}, undefined, agent)
  } finally {
    await agent.close().catch(() => {})
  }
}

/**
 * "Try it": one request to the API through this node's own listener, so that it meets everything a client meets
 * (routing, lifecycle, consumer authentication, throttling, mediation). The path must be one of the API's.
 */
export async function tryApi(api: { context: string; version: string; defaultVersion?: boolean }, gatewayUrls: string[], input: { method?: unknown; path?: unknown; headers?: unknown; body?: unknown }): Promise<CallAnswer & { url: string }> {
  const method = checkedMethod(input.method)
  const path = checkedPath(input.path)
  const bases = apiBasePaths({ ...api, defaultVersion: api.defaultVersion ?? false })
  if (!bases.some((base) => path === base || path.startsWith(base === '/' ? '/' : `${base}/`) || path.startsWith(`${base}?`))) {
    throw new CallRefused('path', `must start with the API's path: ${bases.join(' or ')}`)
  }
  const headers: Record<string, string> = {}
  if (input.headers !== undefined) {
    if (typeof input.headers !== 'object' || input.headers === null || Array.isArray(input.headers)) throw new CallRefused('headers', 'must be an object of header names and values')
    for (const [name, value] of Object.entries(input.headers)) {
      if (typeof value !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value)) throw new CallRefused(`headers.${name}`, 'must be a header name with a string value on one line')
      if (CONNECTION_HEADERS.has(name.toLowerCase())) throw new CallRefused(`headers.${name}`, 'is set by the connection, not by the request')
      headers[name.toLowerCase()] = value
    }
  }
  if (input.body !== undefined && typeof input.body !== 'string') throw new CallRefused('body', 'must be a string')
  const origin = gatewayUrls[0]
  if (!origin) throw new CallRefused('path', 'this node has no listener to call')
  const url = `${origin}${path}`
  // The node's own listener on this machine: its certificate need not name the address used here.
  const agent = url.startsWith('https:') ? new Agent({ connect: { rejectUnauthorized: false } }) : undefined
  try {
    return { url, ...(await call(url, method, headers, input.body as string | undefined, agent)) }
  } catch (error) {
    throw new CallFailed(`${url}: ${describeFailure(error)}`)
  } finally {
    await agent?.close().catch(() => {})
  }
}

async function call(url: string, method: string, headers: Record<string, string>, body: string | undefined, dispatcher: Dispatcher | undefined): Promise<CallAnswer> {
  const started = performance.now()
  const answer = await request(url, {
    method: method as Dispatcher.HttpMethod,
    headers,
    ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body } : {}),
    headersTimeout: CALL_TIMEOUT,
    bodyTimeout: CALL_TIMEOUT,
    ...(dispatcher ? { dispatcher } : {}),
  })
  const chunks: Buffer[] = []
  let size = 0
  let truncated = false
  for await (const chunk of answer.body) {
    const buffer = chunk as Buffer
    if (size + buffer.length > BODY_SHOWN) {
      chunks.push(buffer.subarray(0, BODY_SHOWN - size))
      truncated = true
      answer.body.destroy()
      break
    }
    chunks.push(buffer)
    size += buffer.length
  }
  const shownHeaders: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined) shownHeaders[name] = value
  return { status: answer.statusCode, headers: shownHeaders, body: Buffer.concat(chunks).toString('utf8'), truncated, timeMs: Math.round(performance.now() - started) }
}

/** The kind of failure in words, never a stack. */
function describeFailure(error: unknown): string {
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  return typeof code === 'string' ? `${code}: ${message}` : message
}
