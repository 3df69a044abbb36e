import type { IncomingHttpHeaders } from 'node:http'
import { Readable } from 'node:stream'
import type { BackendResponse } from '../core/endpoint.ts'
import { errorBody, GATEWAY_ERRORS, type GatewayErrorCode } from '../core/errors.ts'

/** The longest function error message passed to the client; the rest is cut. */
const MAX_ERROR_MESSAGE = 1024

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Headers a function may not set: the gateway frames the body itself. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection'])

/** A function result that cannot be turned into an HTTP response. */
export class MalformedResult extends Error {}

/**
 * Turns a function's result into the HTTP response: a proxy-style result (`statusCode`, `headers`,
 * `multiValueHeaders`, `cookies`, `body`, `isBase64Encoded`) becomes that response; any other JSON value is sent
 * as a 200 JSON body, byte for byte.
 */
export function resultResponse(payload: Buffer): BackendResponse {
  if (payload.length === 0) return { status: 200, headers: { 'content-length': '0' }, body: null }
  let result: unknown
  try {
    result = JSON.parse(payload.toString('utf8'))
  } catch {
    throw new MalformedResult('the function result is not JSON')
  }
  if (!isProxyResult(result)) return bufferResponse(200, { 'content-type': 'application/json' }, payload)
  const headers: IncomingHttpHeaders = {}
  if (result.headers !== undefined && result.headers !== null) {
    if (typeof result.headers !== 'object' || Array.isArray(result.headers)) throw new MalformedResult('"headers" must be an object')
    for (const [name, value] of Object.entries(result.headers)) {
      setHeader(headers, name, [headerText(name, value)])
    }
  }
  // As in API Gateway, a name in multiValueHeaders replaces the same name in headers.
  if (result.multiValueHeaders !== undefined && result.multiValueHeaders !== null) {
    if (typeof result.multiValueHeaders !== 'object' || Array.isArray(result.multiValueHeaders)) throw new MalformedResult('"multiValueHeaders" must be an object')
    for (const [name, values] of Object.entries(result.multiValueHeaders)) {
      if (!Array.isArray(values)) throw new MalformedResult(`multiValueHeaders "${name}" must be an array`)
      setHeader(headers, name, values.map((value) => headerText(name, value)))
    }
  }
  if (result.cookies !== undefined && result.cookies !== null) {
    if (!Array.isArray(result.cookies) || !result.cookies.every((cookie) => typeof cookie === 'string')) {
      throw new MalformedResult('"cookies" must be an array of strings')
    }
    const existing = headers['set-cookie'] ?? []
    headers['set-cookie'] = [...existing, ...result.cookies.map((cookie) => headerText('cookies', cookie))]
  }
  let body: Buffer
  if (result.body === undefined || result.body === null) body = Buffer.alloc(0)
  else if (typeof result.body !== 'string') throw new MalformedResult('"body" must be a string')
  else if (result.isBase64Encoded === true) {
    if (!STRICT_BASE64.test(result.body)) throw new MalformedResult('"body" is not valid base64 although "isBase64Encoded" is true')
    body = Buffer.from(result.body, 'base64')
  } else body = Buffer.from(result.body, 'utf8')
  if (body.length > 0 && headers['content-type'] === undefined) headers['content-type'] = 'application/json'
  return bufferResponse(result.statusCode, headers, body)
}

/** A function error (`X-Amz-Function-Error`) as the gateway's JSON error: type and message, never the stack trace. */
export function functionErrorResponse(kind: string, payload: Buffer, requestId: string): BackendResponse {
  let errorType = kind
  let errorMessage = ''
  try {
    const error = JSON.parse(payload.toString('utf8')) as { errorType?: unknown; errorMessage?: unknown }
    if (typeof error.errorType === 'string') errorType = error.errorType
    if (typeof error.errorMessage === 'string') errorMessage = error.errorMessage.slice(0, MAX_ERROR_MESSAGE)
  } catch {
    // A result that is not JSON still is a function error; type and message stay unknown.
  }
  const message = `The Lambda function failed (${kind}): ${errorType}${errorMessage ? `: ${errorMessage}` : ''}`
  return gatewayError('LAMBDA_FUNCTION_ERROR', requestId, message, { functionError: kind, errorType, errorMessage })
}

/** A response in the gateway's error shape, `{ code, message, requestId, ... }`, for errors the leaf answers itself. */
export function gatewayError(code: GatewayErrorCode, requestId: string, message: string, details: object = {}): BackendResponse {
  const body = Buffer.from(errorBody(code, message, requestId, details))
  return bufferResponse(GATEWAY_ERRORS[code].status, { 'content-type': 'application/json', 'cache-control': 'no-store' }, body)
}

/** An empty response with the given status (202 for an asynchronous invocation). */
export function emptyResponse(status: number): BackendResponse {
  return { status, headers: { 'content-length': '0' }, body: null }
}

interface ProxyResult {
  statusCode: number
  headers?: unknown
  multiValueHeaders?: unknown
  cookies?: unknown
  body?: unknown
  isBase64Encoded?: unknown
}

function isProxyResult(result: unknown): result is ProxyResult {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return false
  const status = (result as { statusCode?: unknown }).statusCode
  if (status === undefined) return false
  // 1xx are interim responses, never the answer to a request.
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
    throw new MalformedResult(`"statusCode" must be a whole number from 200 to 599, got ${JSON.stringify(status)}`)
  }
  return true
}

function setHeader(headers: IncomingHttpHeaders, name: string, values: string[]): void {
  const lower = name.toLowerCase()
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new MalformedResult(`header name ${JSON.stringify(name)} is not a valid HTTP token`)
  if (FRAMING_HEADERS.has(lower)) return
  headers[lower] = lower === 'set-cookie' ? values : values.join(', ')
}

function headerText(name: string, value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new MalformedResult(`header "${name}" must be a string, number or boolean`)
  }
  const text = String(value)
  // What node:http accepts in a header value: anything else would fail only when the response is written.
  if (/[^\t\x20-\x7e\x80-\xff]/.test(text)) throw new MalformedResult(`header "${name}" contains a control character or one beyond Latin-1`)
  return text
}

function bufferResponse(status: number, headers: IncomingHttpHeaders, body: Buffer): BackendResponse {
  if (status === 204 || status === 304) return { status, headers, body: null }
  headers['content-length'] = String(body.length)
  return { status, headers, body: body.length === 0 ? null : Readable.from([body]) }
}
