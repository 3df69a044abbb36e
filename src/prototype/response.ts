import { Readable } from 'node:stream'
import type { BackendResponse } from '../core/endpoint.ts'
import { errorBody } from '../core/errors.ts'

/** A response a prototype built; headers in lower case. */
export interface PrototypeResponse {
  status: number
  headers: Record<string, string>
  body: Buffer | string
}

/** Stable codes of the answers a prototype gives about the request itself rather than from its design. */
export type PrototypeProblemCode =
  | 'PROTOTYPE_REQUEST_INVALID' // the request does not match the OpenAPI document (400, 415 or 422)
  | 'PROTOTYPE_PREFER_UNSATISFIED' // the Prefer header asks for a response or example the document lacks (400)
  | 'PROTOTYPE_NOT_ACCEPTABLE' // no documented media type matches the Accept header (406)
  | 'PROTOTYPE_BODY_TOO_LARGE' // the body is larger than a prototype reads (413)
  | 'PROTOTYPE_NO_RESPONSE' // nothing in the prototype answers this method and resource (501)
  | 'PROTOTYPE_SCRIPT_FAILED' // the resource's script threw, ran too long, used too much memory or returned garbage (500)
  | 'PROTOTYPE_FAILED' // the prototype could not build the response its OpenAPI document describes (500)
  | 'PROTOTYPE_UNAVAILABLE' // the OpenAPI document could not be read at start (503)
  | 'PROTOTYPE_BUSY' // too many scripts are waiting for the sandbox (503)

/** One thing wrong with a request, as the validation answers list them. */
export interface RequestProblem {
  in: 'path' | 'query' | 'header' | 'body'
  /** The parameter's name, or the JSON pointer into the body. */
  name: string
  message: string
}

/** A JSON answer in the gateway's error shape `{ code, message, requestId }`, with details when there are some. */
export function problemResponse(
  status: number,
  code: PrototypeProblemCode,
  message: string,
  requestId: string,
  details: { errors?: RequestProblem[] } = {},
): PrototypeResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: errorBody(code, message, requestId, details),
  }
}

export function toBackendResponse(response: PrototypeResponse, method: string): BackendResponse {
  const body = typeof response.body === 'string' ? Buffer.from(response.body) : response.body
  const headers: Record<string, string> = { ...response.headers }
  const bodyless = method === 'HEAD' || response.status === 204 || response.status === 304
  if (!bodyless || method === 'HEAD') headers['content-length'] = String(body.length)
  return { status: response.status, headers, body: bodyless || body.length === 0 ? null : Readable.from([body]) }
}
