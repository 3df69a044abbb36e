import { randomBytes } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'

/** What the header helpers read of a request, HTTP/1.1's IncomingMessage or HTTP/2's compatibility request. */
type RequestHead = Pick<IncomingMessage, 'rawHeaders' | 'headers' | 'httpVersionMajor' | 'httpVersionMinor'>

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the ones a proxy must not pass on. */
const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'proxy-authorization',
  'proxy-authenticate',
])

/** Request headers not passed on: the hop-by-hop ones, and those the gateway sets itself or consumes. */
const DROPPED_FROM_REQUEST = new Set([
  ...HOP_BY_HOP,
  'host',
  'expect',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  'x-portico-environment',
])

export const ENVIRONMENT_HEADER = 'x-portico-environment'
/**
 * This gateway's `Via` entry. Its pseudonym carries a random id per process, so that a request that comes back
 * (an endpoint or a dynamic allow-list that reaches the gateway's own listener) is recognised by its own entry,
 * while a chain of distinct Portico gateways is not mistaken for a loop. With several workers, a loop returns
 * to one it passed through within as many hops as there are workers.
 */
export const VIA_PSEUDONYM = `portico-${randomBytes(4).toString('hex')}`
export const VIA = `1.1 ${VIA_PSEUDONYM}`

/** `Connection: close` names the option `close`; a field of that name would be hop-by-hop too. */
const CLOSE_TOKEN: ReadonlySet<string> = new Set(['close'])

/** Names listed in `Connection`, which are hop-by-hop for this message only. */
function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (!value) return undefined
  // The two usual values, without splitting: `keep-alive` names a field that is hop-by-hop anyway.
  if (value === 'keep-alive' || value === 'Keep-Alive') return undefined
  if (value === 'close' || value === 'Close') return CLOSE_TOKEN
  const tokens = new Set<string>()
  for (const part of Array.isArray(value) ? value : [value]) {
    for (const token of part.split(',')) {
      const name = token.trim().toLowerCase()
      if (name) tokens.add(name)
    }
  }
  return tokens
}

/**
 * The headers to send to a backend, as a flat name/value list: repeated headers kept in order, hop-by-hop ones
 * removed, and `X-Forwarded-*`, `Via` and the request id added.
 */
export function backendRequestHeaders(req: RequestHead, requestId: string, clientAddress: string, protocol: string): string[] {
  const raw = req.rawHeaders
  const listed = connectionTokens(req.headers.connection)
  const out: string[] = []
  let forwardedFor = ''
  let via = ''
  let cookie: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    // HTTP/2's pseudo-headers (:method, :path, ...) describe the request line; the backend gets a Host instead.
    if (name.charCodeAt(0) === 58) continue
    const lower = name.toLowerCase()
    // HTTP/2 may split Cookie into one field per cookie; an HTTP/1.1 backend must get them as one (RFC 9113 8.2.3).
    if (lower === 'cookie' && req.httpVersionMajor === 2) {
      cookie = cookie === undefined ? raw[i + 1]! : `${cookie}; ${raw[i + 1]}`
      continue
    }
    if (DROPPED_FROM_REQUEST.has(lower) || listed?.has(lower)) continue
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor ? `${forwardedFor}, ${raw[i + 1]}` : raw[i + 1]!
      continue
    }
    if (lower === 'via') {
      via = via ? `${via}, ${raw[i + 1]}` : raw[i + 1]!
      continue
    }
    out.push(name, raw[i + 1]!)
  }
  out.push(
    'x-forwarded-for', forwardedFor ? `${forwardedFor}, ${clientAddress}` : clientAddress,
    'x-forwarded-proto', protocol,
    'via', via ? `${via}, ${VIA}` : VIA,
    'x-request-id', requestId,
  )
  if (cookie !== undefined) out.push('cookie', cookie)
  const host = requestHost(req)
  if (host) out.push('x-forwarded-host', host)
  return out
}

/** The backend's response headers for the client as a flat list, hop-by-hop ones removed and `Via` added. */
export function clientResponseHeaders(headers: IncomingHttpHeaders, requestId: string, extra: readonly string[]): string[] {
  const listed = connectionTokens(headers.connection)
  const out: string[] = []
  let via = ''
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || HOP_BY_HOP.has(name) || listed?.has(name) || name === 'x-request-id') continue
    if (name === 'via') {
      via = Array.isArray(value) ? value.join(', ') : value
      continue
    }
    if (Array.isArray(value)) for (const item of value) out.push(name, item)
    else out.push(name, value)
  }
  out.push('via', via ? `${via}, ${VIA}` : VIA, 'x-request-id', requestId)
  for (const item of extra) out.push(item)
  return out
}

/** Whether the request's `Via` names this gateway: it passed through here already and would loop. */
export function cameBackThroughVia(req: IncomingMessage): boolean {
  const via = req.headers.via
  if (via === undefined || !via.includes(VIA_PSEUDONYM)) return false
  // `Via: 1.1 portico-0a1b2c3d (comment), HTTP/1.0 edge`: the received-by field is the second word of an entry.
  for (const entry of via.split(',')) if (entry.trim().split(/\s+/)[1] === VIA_PSEUDONYM) return true
  return false
}

/** The host the client asked for: HTTP/1.1's Host, HTTP/2's :authority (or a Host sent beside it). */
export function requestHost(req: Pick<RequestHead, 'headers'>): string | undefined {
  return req.headers.host ?? (req.headers[':authority'] as string | undefined)
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/

/** The client's `X-Request-Id` when it is sane, so a trace keeps one id end to end. */
export function clientRequestId(req: Pick<RequestHead, 'headers'>): string | undefined {
  const id = req.headers['x-request-id']
  return typeof id === 'string' && REQUEST_ID.test(id) ? id : undefined
}

/** The first value of a header in a flat name/value list; `lowerName` in lower case. */
export function flatHeader(headers: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!
    // The length first: most names differ in it, and then no lower-case copy is made.
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return headers[i + 1]
  }
  return undefined
}

/** A flat name/value list without the headers named in `lowerNames`. */
export function withoutHeaders(headers: readonly string[], lowerNames: ReadonlySet<string>): string[] {
  const out: string[] = []
  for (let i = 0; i < headers.length; i += 2) if (!lowerNames.has(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!)
  return out
}

/** RFC 3986 host (reg-name or IP literal) with an optional port, as a Host header may hold it. */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/

/** The Host value last found valid: most requests name the host the one before named, and a comparison is cheaper than the pattern. */
let lastValidHost = ''

/**
 * Why the request's Host header is unacceptable, if it is: RFC 9112 section 3.2 asks for a 400 when an HTTP/1.1
 * request has none, more than one, or an invalid one. A proxy must not choose between two Hosts.
 */
export function hostProblem(req: RequestHead): string | undefined {
  const raw = req.rawHeaders
  let count = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length !== 4 || name.toLowerCase() !== 'host') continue
    if (++count > 1) return 'The request has more than one Host header'
    const value = raw[i + 1]!
    if (value === lastValidHost) continue
    if (!HOST_VALUE.test(value)) return 'The Host header is not a host name or address with an optional port'
    lastValidHost = value
  }
  if (count === 0 && req.httpVersionMinor === 1) return 'An HTTP/1.1 request needs a Host header'
  return undefined
}
