import { isUtf8 } from 'node:buffer'
import type { Exchange } from '../core/endpoint.ts'
import { flatHeader } from '../core/headers.ts'

export type EventFormat = 'apigw-v1' | 'apigw-v2' | 'wso2'

/** Media types whose bodies go to the function as text (when they are valid UTF-8); all others as base64. */
const TEXT_TYPE = /^(text\/|application\/(json|xml|javascript|graphql|x-www-form-urlencoded|x-ndjson|yaml|[\w.+-]*\+(json|xml)))/i

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** Builds the event the function receives for one exchange, as JSON text. */
export function buildEvent(format: EventFormat, exchange: Exchange, body: Buffer | null): string {
  switch (format) {
    case 'apigw-v1':
      return JSON.stringify(restApiEvent(exchange, body))
    case 'apigw-v2':
      return JSON.stringify(httpApiEvent(exchange, body))
    case 'wso2':
      return JSON.stringify(wso2Event(exchange, body))
  }
}

/** API Gateway's REST API proxy integration format (payload version 1.0). */
function restApiEvent(exchange: Exchange, body: Buffer | null): object {
  const headers: Record<string, string> = {}
  const multiValueHeaders: Record<string, string[]> = {}
  forEachHeader(exchange, (name, value) => {
    headers[name] = value
    ;(multiValueHeaders[name] ??= []).push(value)
  })
  const query = queryParameters(exchange.query)
  const encoded = encodeBody(body, flatHeader(exchange.headers, 'content-type'))
  const now = Date.now()
  return {
    resource: exchange.route.uriTemplate,
    path: exchange.path || '/',
    httpMethod: exchange.method,
    headers,
    multiValueHeaders,
    queryStringParameters: query ? Object.fromEntries([...query].map(([name, values]) => [name, values.at(-1)!])) : null,
    multiValueQueryStringParameters: query ? Object.fromEntries(query) : null,
    pathParameters: pathParameters(exchange),
    stageVariables: null,
    requestContext: {
      resourcePath: exchange.route.uriTemplate,
      httpMethod: exchange.method,
      path: exchange.path || '/',
      stage: exchange.route.apiVersion,
      apiId: exchange.route.apiName,
      requestId: exchange.requestId,
      requestTime: clfTime(now),
      requestTimeEpoch: now,
      domainName: exchange.client.host,
      protocol: 'HTTP/1.1',
      identity: { sourceIp: exchange.client.address, userAgent: flatHeader(exchange.headers, 'user-agent') ?? null },
    },
    body: encoded.body,
    isBase64Encoded: encoded.isBase64Encoded,
  }
}

/** API Gateway's HTTP API format (payload version 2.0): lower-case headers joined by commas, cookies apart. */
function httpApiEvent(exchange: Exchange, body: Buffer | null): object {
  const headers: Record<string, string> = {}
  const cookies: string[] = []
  forEachHeader(exchange, (name, value) => {
    const lower = name.toLowerCase()
    if (lower === 'cookie') {
      for (const cookie of value.split(';')) if (cookie.trim()) cookies.push(cookie.trim())
      return
    }
    headers[lower] = headers[lower] === undefined ? value : `${headers[lower]},${value}`
  })
  const query = queryParameters(exchange.query)
  const encoded = encodeBody(body, headers['content-type'])
  const now = Date.now()
  const routeKey = `${exchange.method} ${exchange.route.uriTemplate}`
  const path = exchange.path || '/'
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: exchange.query,
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(query ? { queryStringParameters: Object.fromEntries([...query].map(([name, values]) => [name, values.join(',')])) } : {}),
    ...(exchange.uriVariables && Object.keys(exchange.uriVariables).length ? { pathParameters: { ...exchange.uriVariables } } : {}),
    requestContext: {
      apiId: exchange.route.apiName,
      domainName: exchange.client.host,
      http: {
        method: exchange.method,
        path,
        protocol: 'HTTP/1.1',
        sourceIp: exchange.client.address,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: exchange.requestId,
      routeKey,
      stage: exchange.route.apiVersion,
      time: clfTime(now),
      timeEpoch: now,
    },
    ...(encoded.body === null ? {} : { body: encoded.body }),
    isBase64Encoded: encoded.isBase64Encoded,
  }
}

/**
 * WSO2 API Manager's AWS Lambda mediator format: headers (last value wins), path and query parameters, the method,
 * the matched resource template as `path`, and the body as text for every method but GET and HEAD.
 */
function wso2Event(exchange: Exchange, body: Buffer | null): object {
  const headers: Record<string, string> = {}
  forEachHeader(exchange, (name, value) => {
    headers[name] = value
  })
  const query = queryParameters(exchange.query)
  const event: Record<string, unknown> = {
    headers,
    pathParameters: { ...exchange.uriVariables },
    queryStringParameters: query ? Object.fromEntries([...query].map(([name, values]) => [name, values.at(-1)!])) : {},
    httpMethod: exchange.method,
    path: exchange.route.uriTemplate,
  }
  const encoded = encodeBody(body, headers['content-type'] ?? flatHeader(exchange.headers, 'content-type'))
  if (exchange.method !== 'GET' && exchange.method !== 'HEAD') event.body = encoded.body ?? '{}'
  event.isBase64Encoded = encoded.isBase64Encoded
  return event
}

function forEachHeader(exchange: Exchange, visit: (name: string, value: string) => void): void {
  const headers = exchange.headers
  let host = false
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!
    if (!host && name.toLowerCase() === 'host') host = true
    visit(name, headers[i + 1]!)
  }
  // The gateway sets Host for a backend itself; the function sees the one the client sent, as API Gateway shows it.
  if (!host && exchange.client.host) visit('Host', exchange.client.host)
}


/** Query parameters, decoded, every value of each in order; undefined when there is no query. */
function queryParameters(query: string): Map<string, string[]> | undefined {
  if (!query) return undefined
  const parameters = new Map<string, string[]>()
  for (const [name, value] of new URLSearchParams(query)) {
    const values = parameters.get(name)
    if (values) values.push(value)
    else parameters.set(name, [value])
  }
  return parameters.size ? parameters : undefined
}

function pathParameters(exchange: Exchange): Record<string, string> | null {
  return Object.keys(exchange.uriVariables).length ? { ...exchange.uriVariables } : null
}

/** Text bodies go as they are; anything else (or text that is not valid UTF-8) as base64 with `isBase64Encoded`. */
function encodeBody(body: Buffer | null, contentType: string | undefined): { body: string | null; isBase64Encoded: boolean } {
  if (!body || body.length === 0) return { body: null, isBase64Encoded: false }
  if (contentType && TEXT_TYPE.test(contentType) && isUtf8(body)) return { body: body.toString('utf8'), isBase64Encoded: false }
  return { body: body.toString('base64'), isBase64Encoded: true }
}

/** `25/Nov/2026:12:38:34 +0000`, the time format of API Gateway's request context. */
function clfTime(epochMs: number): string {
  const date = new Date(epochMs)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
}
